//! What no schema decides, and the steps every generated handler takes
//! before it calls the [`UsersApi`] trait: authenticate the caller and check
//! the operation's scope ([`authorize`]), read the parameters as text
//! ([`Params`], for the generated decoders), apply the tenant switch
//! ([`context`]), check the body's media type and limit and decode it
//! ([`body`]), and answer any failure with `application/problem+json`
//! ([`Rejection`]); what an implementation refuses with ([`Refused`]).
//!
//! [`UsersApi`]: crate::UsersApi

pub mod auth;
pub mod decode;
pub mod merge;
pub mod problem;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

pub use auth::{Credential, KeyLocation, Presented, SchemeKind, SchemeSpec, authorize};
pub use problem::{InvalidField, ProblemDetails};

/// The request id header, taken from the request or generated.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The body limit when none is configured: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// What an implementation's claims type tells the router: the scopes it
/// grants and the accounts it may act on.
pub trait Claims: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Whether the claims grant `scope`.
    fn has_scope(&self, scope: &str) -> bool;
    /// The account (tenant) the caller acts on by default.
    fn account(&self) -> &str;
    /// Whether the caller may act on `account` through a tenant switch
    /// (`accountSwitchKey`).
    fn may_switch_to(&self, account: &str) -> bool;
}

/// A ready-made claims type: what the reference server's bearer tokens
/// prove. An implementation may bring its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject (`sub`): who is calling.
    pub subject: String,
    /// The account (tenant) the token belongs to.
    pub account: String,
    /// The scopes the token grants.
    pub scopes: BTreeSet<String>,
    /// Other accounts the token may act on with `accountSwitchKey`.
    pub switchable_accounts: BTreeSet<String>,
    /// The organizations of the account the caller belongs to.
    pub organizations: BTreeSet<String>,
}

impl Caller {
    /// Whether the caller holds `users:admin`.
    pub fn is_admin(&self) -> bool {
        self.has_scope("users:admin")
    }
}

impl Claims for Caller {
    /// `users:admin` includes `users:write`, which includes `users:read`.
    fn has_scope(&self, scope: &str) -> bool {
        let held = |s: &str| self.scopes.contains(s);
        match scope {
            "users:read" => held("users:read") || held("users:write") || held("users:admin"),
            "users:write" => held("users:write") || held("users:admin"),
            other => held(other),
        }
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn may_switch_to(&self, account: &str) -> bool {
        self.switchable_accounts.contains(account)
    }
}

/// Who is calling, on which account, under which request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext<C = Caller> {
    /// The verified caller's claims.
    pub caller: C,
    /// The account a tenant switch named (which the claims allow), if any.
    switched_to: Option<String>,
    /// The id this request is logged under (`x-request-id`).
    request_id: HeaderValue,
}

impl<C: Claims> RequestContext<C> {
    /// The context of a request by `caller`, acting on `switched_to` (an
    /// account the claims allow) or else on its own, logged as `request_id`.
    pub fn new(caller: C, switched_to: Option<String>, request_id: HeaderValue) -> Self {
        Self {
            caller,
            switched_to,
            request_id,
        }
    }

    /// The account the operation acts on: the caller's own, or the one a
    /// tenant switch named.
    pub fn account(&self) -> &str {
        self.switched_to
            .as_deref()
            .unwrap_or_else(|| self.caller.account())
    }

    /// The id this request is logged under (`x-request-id`).
    pub fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }
}

/// The operation that answered, in the response's extensions when
/// [`RouterOptions::operation_ids`] is on, so layers around the router
/// (logs, metrics, traces) can name the operation without matching paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationId(pub &'static str);

/// The codes of a problem's field errors, in the response's extensions of
/// every problem that has some, so layers around the router can count
/// refusals by code without reading the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCodes(pub Vec<String>);

/// How the router serves the API.
#[derive(Debug, Clone, Copy)]
pub struct RouterOptions {
    /// The largest request body accepted, in bytes; larger is a 413.
    pub body_limit: usize,
    /// Whether every response carries the [`OperationId`] that answered it
    /// in its extensions, for layers around the router (logs, metrics,
    /// traces). Off by default: it costs an allocation per response.
    pub operation_ids: bool,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            operation_ids: false,
        }
    }
}

/// What every generated handler is given: the implementation and the
/// router's options.
#[derive(Debug)]
pub struct Served<A> {
    /// The implementation.
    pub api: std::sync::Arc<A>,
    /// How the router serves it.
    pub options: RouterOptions,
}

impl<A> Clone for Served<A> {
    fn clone(&self) -> Self {
        Self {
            api: std::sync::Arc::clone(&self.api),
            options: self.options,
        }
    }
}

/// A generated handler as an axum [`Handler`](axum::handler::Handler):
/// called with the request and the router's state, its future is the one the
/// route boxes, as it is. (axum's handlers for functions box their future
/// first, around extractors that hold the request's parts again: two
/// allocations per request, the first twice the size.)
#[derive(Debug, Clone, Copy)]
pub struct Handle<F>(pub F);

/// The marker type of [`Handle`]'s `Handler` implementation.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Direct {}

impl<A, F, Fut> axum::handler::Handler<Direct, Served<A>> for Handle<F>
where
    A: Send + Sync + 'static,
    F: FnOnce(Served<A>, axum::extract::Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    type Future = Fut;

    fn call(self, request: axum::extract::Request, state: Served<A>) -> Fut {
        (self.0)(state, request)
    }
}

impl<A> Served<A> {
    /// Finishes the response of `op`: with its [`OperationId`] when the
    /// options ask for it.
    pub fn answered(&self, op: &OperationSpec, mut response: Response) -> Response {
        if self.options.operation_ids {
            response
                .extensions_mut()
                .insert(OperationId(op.operation_id));
        }
        response
    }
}

/// Whether a caller's `x-request-id` may be kept: 1 to 128 characters of
/// `A-Za-z0-9-_.:`, so that it cannot forge or break a log line.
pub fn is_sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The request's id: the caller's `x-request-id` when it is sane (1 to 128
/// characters of `A-Za-z0-9-_.:`), else a new UUID. The router calls it on
/// every request; a layer outside the router calls it first so that its logs
/// carry the same id.
pub fn request_id(headers: &http::HeaderMap) -> HeaderValue {
    match headers.get(REQUEST_ID) {
        Some(value) if is_sane_request_id(value) => value.clone(),
        _ => {
            // A version 4 UUID from the thread's CSPRNG: no system call per
            // request, as `Uuid::new_v4` would make.
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
            id.hyphenated().encode_lower(&mut text);
            // Owned once and shared by reference count: the request's
            // scope, its context, its problems and the response each hold
            // the same bytes.
            HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
                .expect("a UUID is a header value")
        }
    }
}

tokio::task_local! {
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// Runs `future` (a request's handling) with `id` as the request id that
/// every [`Rejection`] built inside it writes into its problem's
/// `requestId`. The router does this for every request; a layer outside the
/// router (which may refuse requests itself, such as a rate limit) does it
/// too, with the same id.
pub async fn with_request_id<F: Future>(id: HeaderValue, future: F) -> F::Output {
    CURRENT_REQUEST_ID.scope(id, future).await
}

/// The id of the request being handled, inside [`with_request_id`].
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// The layer the router puts around every route: gives each request its id
/// ([`request_id`]), in scope while it is handled ([`with_request_id`]: the
/// [`RequestContext`] and every problem carry it) and on the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// See [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for RequestIdService<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let id = request_id(request.headers());
        RequestIdFuture {
            inner: CURRENT_REQUEST_ID.scope(id.clone(), self.inner.call(request)),
            id: Some(id),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestIdService`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<HeaderValue, F>,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        std::task::Poll::Ready(Ok(response))
    }
}

/// Why a token was refused; every case is a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Turns the credentials a request carries into the implementation's own
/// [`Claims`].
pub trait Authenticator: Send + Sync + 'static {
    /// What a verified credential proves.
    type Claims: Claims;
    /// Verifies a bearer `token` (the part after `Bearer `).
    fn authenticate(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Self::Claims, AuthError>> + Send;
    /// Verifies what a request presented for one of the operation's
    /// security requirements: one credential per scheme of the
    /// requirement, in the spec's order, each naming its scheme. By default
    /// a lone bearer token goes to [`Authenticator::authenticate`] and
    /// anything else is refused: an API with other schemes (API keys, HTTP
    /// basic, several schemes at once) overrides this.
    fn verify(
        &self,
        presented: &[Presented<'_>],
    ) -> impl Future<Output = Result<Self::Claims, AuthError>> + Send {
        async move {
            match presented {
                [
                    Presented {
                        credential: Credential::Bearer(token),
                        ..
                    },
                ] => self.authenticate(token).await,
                _ => {
                    let names: Vec<&str> = presented.iter().map(|p| p.scheme.name).collect();
                    Err(AuthError(format!(
                        "this server does not verify {}",
                        names.join(" with ")
                    )))
                }
            }
        }
    }
    /// The claims of a caller who sent no token, for the operations the
    /// spec leaves open (no `security`, or `{}` among its alternatives).
    /// By default there are none, and such a call is a 401 like any other
    /// without a token: an implementation that serves open operations says
    /// what an anonymous caller may do.
    fn anonymous(&self) -> Option<Self::Claims> {
        None
    }
}

/// The body of an operation, as the spec declares it.
#[derive(Debug, Clone, Copy)]
pub struct BodySpec {
    /// The JSON media types it may come as (`application/merge-patch+json`
    /// and `application/json` for a merge patch, ...), decoded.
    pub media_types: &'static [&'static str],
    /// The other media types it may come as (`application/xml`,
    /// `image/*`, `*/*`), handed over as sent ([`RawBody`]).
    pub raw_media_types: &'static [&'static str],
    /// The component schema its JSON must satisfy; `None`: any JSON.
    pub schema: Option<&'static str>,
    /// The largest raw body the operation takes (the `maxLength` of its
    /// binary schema), in place of [`RouterOptions::body_limit`]; `None`:
    /// the router's limit.
    pub max_bytes: Option<usize>,
}

/// A request body in a media type the router does not decode (XML, a form,
/// an image, ...): the media type as sent and the bytes, read within the
/// body limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The `Content-Type` sent, parameters included
    /// (`application/octet-stream` when none was sent to an operation
    /// that takes `*/*`).
    pub media_type: String,
    /// The body.
    pub bytes: bytes::Bytes,
}

/// The body of an operation that takes JSON and other media types: the
/// JSON decoded, anything else as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<T> {
    /// A body in one of the JSON media types, decoded and validated.
    Json(T),
    /// A body in one of the other media types.
    Raw(RawBody),
}

/// What an operation takes, generated from the spec.
#[derive(Debug, Clone, Copy)]
pub struct OperationSpec {
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// The HTTP method, uppercase.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// Every status the spec documents for it by number.
    pub statuses: &'static [u16],
    /// The status classes it documents as ranges: `4` for `4XX`.
    pub status_classes: &'static [u16],
    /// Whether it documents a `default` response (any status).
    pub default_response: bool,
    /// Who may call it: any one of these requirements, each met by every
    /// scheme in it (with the scopes it names); none when the spec leaves
    /// the operation open.
    pub security: &'static [&'static [SchemeSpec]],
    /// Its parameters, in spec order (the path item's first).
    pub parameters: &'static [ParameterSpec],
    /// The request body, if it takes one.
    pub body: Option<BodySpec>,
}

/// A parameter an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParameterSpec {
    /// Its name as sent (`If-Match`, `userId`, `limit`).
    pub name: &'static str,
    /// Where it is sent: `path`, `query`, `header` or `cookie`.
    pub location: &'static str,
    /// Whether the spec requires it.
    pub required: bool,
}

impl OperationSpec {
    /// Whether the spec documents `status` for the operation: by number,
    /// by its range, or by a `default` response.
    pub fn documents(&self, status: StatusCode) -> bool {
        let code = status.as_u16();
        self.default_response
            || self.statuses.contains(&code)
            || self.status_classes.contains(&(code / 100))
    }
}

/// A refused request: a problem+json answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The HTTP status.
    pub status: StatusCode,
    /// The problem's stable code.
    pub code: &'static str,
    /// A short summary of the kind of problem.
    pub title: &'static str,
    /// What went wrong; for field errors `field: message; ...`.
    pub detail: String,
    /// Field errors, for validation problems: at most
    /// [`decode::MAX_LISTED_ERRORS`].
    pub errors: Vec<InvalidField>,
    /// How many more field errors were found than `errors` lists.
    pub omitted: usize,
    /// Headers to send with it (`Allow`, `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, String)>,
}

impl Rejection {
    /// A problem with no field errors.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            omitted: 0,
            headers: Vec::new(),
        }
    }

    /// A 400 listing the field errors a decoder found, with the count of
    /// those past [`decode::MAX_LISTED_ERRORS`].
    pub fn from_errors(errors: decode::Errors) -> Self {
        let omitted = errors.omitted();
        let mut rejection = Self::invalid(errors.into_vec());
        rejection.add_omitted(omitted);
        rejection
    }

    /// A 400 listing every field error, `detail` reading `field: message; ...`.
    pub fn invalid(errors: Vec<InvalidField>) -> Self {
        Self::fields(
            StatusCode::BAD_REQUEST,
            "validation-failed",
            "The request is invalid",
            errors,
        )
    }

    /// A problem about particular fields (a 400, a 403 `privileged-field`, a
    /// 409 `duplication-violation`, ...), `detail` reading `field: message; ...`.
    pub fn fields(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        mut errors: Vec<InvalidField>,
    ) -> Self {
        let omitted = errors.len().saturating_sub(decode::MAX_LISTED_ERRORS);
        errors.truncate(decode::MAX_LISTED_ERRORS);
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut rejection = Self {
            errors,
            ..Self::new(status, code, title, detail)
        };
        rejection.add_omitted(omitted);
        rejection
    }

    /// Counts `more` field errors that are not listed, and says so in the
    /// detail.
    fn add_omitted(&mut self, more: usize) {
        if more == 0 {
            return;
        }
        self.omitted += more;
        self.detail = format!(
            "{}; and {} more (the first {} are listed)",
            self.detail,
            self.omitted,
            self.errors.len()
        );
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The `Retry-After` seconds it carries, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .iter()
            .find(|(name, _)| name == header::RETRY_AFTER)
            .and_then(|(_, value)| value.parse().ok())
    }

    /// The problem document this rejection answers with.
    pub fn problem(&self) -> ProblemDetails {
        ProblemDetails {
            type_: format!("https://example.org/users-api/problems/{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: Some(self.detail.clone()),
            instance: None,
            request_id: current_request_id(),
            errors: (!self.errors.is_empty()).then(|| self.errors.clone()),
            omitted_errors: (self.omitted > 0).then_some(self.omitted),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let mut response = json_response(self.status, PROBLEM_JSON, &problem);
        // For an API whose errors have their own schema: see `error_body`.
        response.extensions_mut().insert(problem);
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(name.clone(), value);
            }
        }
        if !self.errors.is_empty() {
            response.extensions_mut().insert(FieldCodes(
                self.errors.into_iter().map(|error| error.code).collect(),
            ));
        }
        response
    }
}

/// How an API whose errors are its own schema `E` (not a problem
/// document) answers them: every response the runtime wrote a problem in
/// (it keeps the [`ProblemDetails`] in the response's extensions) is
/// answered with the `E` made from that problem, as `media_type`, with the
/// same status and headers. The generated router of such an API layers it
/// over every route; the contract crate implements
/// `From<ProblemDetails>` for its error type.
pub fn error_body<E>(media_type: &'static str) -> impl Fn(Response) -> Response + Clone
where
    E: From<ProblemDetails> + Serialize,
{
    move |mut response: Response| {
        let Some(problem) = response.extensions_mut().remove::<ProblemDetails>() else {
            return response;
        };
        let Ok(bytes) = serde_json::to_vec(&E::from(problem)) else {
            return response;
        };
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        Response::from_parts(parts, axum::body::Body::from(bytes))
    }
}

/// A response body an implementation either gives or lends: `value.into()`
/// for an owned value, `arc.into()` for one it shares (a cache, an
/// in-memory store), which is then serialized without a copy.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<T> {
    /// A value given to the response.
    Owned(T),
    /// A value lent to it.
    Shared(std::sync::Arc<T>),
}

impl<T> From<T> for Body<T> {
    fn from(value: T) -> Self {
        Self::Owned(value)
    }
}

impl<T> From<std::sync::Arc<T>> for Body<T> {
    fn from(value: std::sync::Arc<T>) -> Self {
        Self::Shared(value)
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Self::Owned(value) => value,
            Self::Shared(value) => value,
        }
    }
}

impl<T: Serialize> Serialize for Body<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

/// A JSON body with the given status and media type.
pub fn json_response<T: Serialize>(
    status: StatusCode,
    media_type: &'static str,
    body: &T,
) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))],
            bytes,
        )
            .into_response(),
        Err(err) => Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the response could not be encoded: {err}"),
        )
        .into_response(),
    }
}

/// The answer to a request no route matches: a problem+json `404`.
pub async fn not_found(uri: http::Uri) -> Response {
    Rejection::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for {}", uri.path()),
    )
    .into_response()
}

/// The answer to a method no operation of the path takes: a problem+json
/// `405` whose `Allow` lists the methods of `ops` that the path takes.
pub fn method_not_allowed(
    ops: &[&OperationSpec],
    method: &http::Method,
    uri: &http::Uri,
) -> Response {
    let allowed: Vec<&str> = ops
        .iter()
        .filter(|op| path_matches(op.path, uri.path()))
        .map(|op| op.method)
        .collect();
    Rejection::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} is not allowed on {}", method, uri.path()),
    )
    .with_header(header::ALLOW, allowed.join(", "))
    .into_response()
}

/// The largest body the request `method path` may send: the
/// [`BodySpec::max_bytes`] of the operation it names, else `default` (for
/// layers that read bodies before the router, which apply the same limit).
pub fn body_limit(
    ops: &[&OperationSpec],
    method: &http::Method,
    path: &str,
    default: usize,
) -> usize {
    // Most operations state no limit: those are passed over before any
    // path is compared (this runs for every request with a body).
    ops.iter()
        .filter_map(|op| Some((op, op.body?.max_bytes?)))
        .filter(|(op, _)| op.method == method.as_str() && path_matches(op.path, path))
        .map(|(_, limit)| limit)
        .max()
        .unwrap_or(default)
}

/// Whether `path` fills the path template `template` (`/v1/users/{userId}`
/// and `/v1/users/u-1`).
pub fn path_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// The path's `{parameters}` as axum matched them, percent-decoded.
pub async fn path_params(
    parts: &mut http::request::Parts,
) -> Result<axum::extract::RawPathParams, Rejection> {
    use axum::extract::FromRequestParts;
    axum::extract::RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "The path is malformed",
                e.body_text(),
            )
        })
}

/// A request's parameters as text, for the generated decoders.
#[derive(Debug)]
pub struct Params<'a> {
    path: &'a axum::extract::RawPathParams,
    query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    headers: &'a http::HeaderMap,
}

impl<'a> Params<'a> {
    /// The parameters of a request: its matched path, its query string
    /// (`application/x-www-form-urlencoded`) and its headers.
    pub fn new(parts: &'a http::request::Parts, path: &'a axum::extract::RawPathParams) -> Self {
        let query = parts
            .uri
            .query()
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).collect())
            .unwrap_or_default();
        Self {
            path,
            query,
            headers: &parts.headers,
        }
    }

    /// The value of path parameter `name`.
    #[allow(clippy::result_unit_err)]
    pub fn path(&self, name: &str) -> Result<Option<Cow<'a, str>>, ()> {
        Ok(self
            .path
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| Cow::Borrowed(value)))
    }

    /// The one value of query parameter `name`, if sent; a parameter sent
    /// twice is an error at `at`.
    #[allow(clippy::result_unit_err)]
    pub fn query(
        &self,
        name: &str,
        at: &decode::Path<'_>,
        errors: &mut decode::Errors,
    ) -> Result<Option<Cow<'a, str>>, ()> {
        let mut found = self.query.iter().filter(|(key, _)| key == name);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some((_, value)), None) => Ok(Some(value.clone())),
            (Some(_), Some(_)) => repeated(at, errors),
        }
    }

    /// Every value of query parameter `name`, in order (an exploded
    /// array: `?tag=a&tag=b`).
    pub fn query_all(&self, name: &str) -> Vec<Cow<'a, str>> {
        self.query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The one value of header `name`, if sent; a header sent twice, or one
    /// that is not visible ASCII text, is an error at `at`.
    #[allow(clippy::result_unit_err)]
    pub fn header(
        &self,
        name: &http::HeaderName,
        at: &decode::Path<'_>,
        errors: &mut decode::Errors,
    ) -> Result<Option<Cow<'a, str>>, ()> {
        let mut found = self.headers.get_all(name).iter();
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => match value.to_str() {
                Ok(text) => Ok(Some(Cow::Borrowed(text))),
                Err(_) => {
                    errors.push(at, "type", "must be visible ASCII text");
                    Err(())
                }
            },
            (Some(_), Some(_)) => repeated(at, errors),
        }
    }
}

fn repeated<T>(at: &decode::Path<'_>, errors: &mut decode::Errors) -> Result<T, ()> {
    errors.push(at, "repeated", "must be sent once");
    Err(())
}

/// Who is calling and on which account: the caller's own, or the one a
/// tenant switch (`switch_to`) names, which the claims must allow (else a
/// 403). The switch is only judged once the parameters are sound. The
/// request id is the one in scope ([`with_request_id`]).
pub fn context<C: Claims>(
    caller: C,
    switch_to: Option<&str>,
    errors: &decode::Errors,
) -> Result<RequestContext<C>, Rejection> {
    let request_id = CURRENT_REQUEST_ID
        .try_with(HeaderValue::clone)
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    let switched_to = match switch_to {
        Some(key) if errors.is_empty() && key != caller.account() => {
            if !caller.may_switch_to(key) {
                return Err(Rejection::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "The account cannot be switched to",
                    format!("the token does not list account {key}"),
                ));
            }
            Some(key.to_owned())
        }
        _ => None,
    };
    Ok(RequestContext::new(caller, switched_to, request_id))
}

/// The answer of an implementation: its response or its refusal, each
/// one of the operation's documented answers.
pub fn answer<R: IntoResponse, E: IntoResponse>(answer: Result<R, E>) -> Response {
    match answer {
        Ok(response) => response.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// A problem an implementation answers for a documented range (`class`
/// `4` for `4XX`) or `default` (`class` 0, any error): a status outside it
/// breaks the contract, and is logged as an error and answered as a 500
/// that says so, never passed on.
pub fn ranged(class: u16, problem: Rejection) -> Response {
    let code = problem.status.as_u16();
    let inside = if class == 0 {
        (400..600).contains(&code)
    } else {
        code / 100 == class
    };
    if inside {
        return problem.into_response();
    }
    tracing::error!(
        status = code,
        code = problem.code,
        "the implementation answered with a status the spec does not document"
    );
    Rejection::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "undocumented-status",
        "Internal error",
        format!("the implementation answered {code}, which the operation does not document"),
    )
    .into_response()
}

/// A problem answered with the error status `S`: what an implementation
/// builds to refuse a request. It becomes an operation's refusal (`?`,
/// `.into()`) only through the `From` impls the generator writes for the
/// statuses that operation documents, so refusing with an undocumented
/// status does not compile:
///
/// ```compile_fail,E0277
/// use users_api::{DeleteUserRefusal, runtime::Refused};
/// // deleteUser documents no 409.
/// let refusal: DeleteUserRefusal = Refused::<409>::new("x", "X", "x").into();
/// ```
///
/// ```
/// use users_api::{DeleteUserRefusal, runtime::Refused};
/// let refusal: DeleteUserRefusal =
///     Refused::<404>::new("not-found", "Not found", "no such user").into();
/// ```
///
/// It is one pointer wide, so an operation's refusal is small and its
/// `Result` cheap to pass up.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused<const S: u16>(Box<Rejection>);

impl<const S: u16> Refused<S> {
    /// The status, checked when the program is compiled: an error status.
    const STATUS: u16 = {
        assert!(S >= 400 && S <= 599, "a refusal's status is 4xx or 5xx");
        S
    };

    /// A problem with no field errors.
    pub fn new(code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Rejection::new(
            Self::status(),
            code,
            title,
            detail,
        )))
    }

    /// A problem about particular fields, `detail` reading
    /// `field: message; ...` (see [`Rejection::fields`]).
    pub fn fields(code: &'static str, title: &'static str, errors: Vec<InvalidField>) -> Self {
        Self(Box::new(Rejection::fields(
            Self::status(),
            code,
            title,
            errors,
        )))
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    /// The problem it answers with.
    pub fn rejection(&self) -> &Rejection {
        &self.0
    }

    fn status() -> StatusCode {
        StatusCode::from_u16(Self::STATUS).expect("4xx and 5xx are statuses")
    }
}

impl Refused<400> {
    /// A 400 listing every field error (see [`Rejection::invalid`]).
    pub fn invalid(errors: Vec<InvalidField>) -> Self {
        Self(Box::new(Rejection::invalid(errors)))
    }
}

impl<const S: u16> From<Refused<S>> for Box<Rejection> {
    fn from(refused: Refused<S>) -> Self {
        refused.0
    }
}

impl<const S: u16> IntoResponse for Refused<S> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// Reads and decodes the body of `op`: a declared media type (else 415),
/// within the limit (else 413), JSON (else 400 `malformed-request`), an
/// object (else the same) and every constraint of `T` (errors into
/// `errors`).
pub async fn body<T: decode::Decode>(
    op: &OperationSpec,
    options: &RouterOptions,
    parts: &http::request::Parts,
    body: axum::body::Body,
    errors: &mut decode::Errors,
) -> Result<Option<T>, Rejection> {
    let Some(spec) = op.body else {
        return Ok(None);
    };
    let limit = options.body_limit;
    // The media type without its parameters, compared without case.
    let media_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    if !media_type.is_some_and(|m| {
        spec.media_types
            .iter()
            .any(|known| known.eq_ignore_ascii_case(m))
    }) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the body as {}", spec.media_types.join(" or ")),
        ));
    }
    if let Some(refused) = unreadable(&parts.headers) {
        return Err(refused);
    }
    let bytes = read_body(body, limit).await?;
    let json = decode::Json::parse(&bytes).map_err(|e| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "The body is not JSON",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let before = errors.len();
    let value = T::decode(&json, &decode::Path::Root, errors);
    // An error of the body as a whole (not an object, ...) names no field:
    // it is a malformed request, never an empty field path.
    if let Some(whole) = errors.since(before).iter().find(|e| e.field.is_empty()) {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "The body is not the expected JSON",
            format!("the body {}", whole.message),
        ));
    }
    Ok(value)
}

/// Whether the media type `sent` (its essence) is one `pattern` names:
/// the same, without regard to case, or under a wildcard (`image/*`, `*/*`).
fn media_matches(pattern: &str, sent: &str) -> bool {
    match pattern.split_once('/') {
        Some(("*", "*")) => true,
        Some((kind, "*")) => sent
            .split_once('/')
            .is_some_and(|(sent_kind, _)| sent_kind.eq_ignore_ascii_case(kind)),
        _ => pattern.eq_ignore_ascii_case(sent),
    }
}

/// The body of an operation that takes it in a media type the router does
/// not decode: the `Content-Type` must be one the spec lists (`415`
/// otherwise, and for an encoded body), and the body is read within the
/// body limit (`413` past it).
pub async fn raw_body(
    op: &OperationSpec,
    options: &RouterOptions,
    parts: &http::request::Parts,
    body: axum::body::Body,
) -> Result<Option<RawBody>, Rejection> {
    let Some(spec) = op.body else {
        return Ok(None);
    };
    let sent = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let essence = sent.map(|v| v.split(';').next().unwrap_or_default().trim());
    let media_type = match essence {
        Some(essence)
            if spec
                .raw_media_types
                .iter()
                .any(|p| media_matches(p, essence)) =>
        {
            sent.unwrap_or_default().to_owned()
        }
        None if spec.raw_media_types.contains(&"*/*") => "application/octet-stream".to_owned(),
        _ => {
            let every: Vec<&str> = spec
                .media_types
                .iter()
                .chain(spec.raw_media_types)
                .copied()
                .collect();
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!("send the body as {}", every.join(" or ")),
            ));
        }
    };
    if let Some(refused) = encoded(&parts.headers) {
        return Err(refused);
    }
    let bytes = read_body(body, spec.max_bytes.unwrap_or(options.body_limit)).await?;
    Ok(Some(RawBody { media_type, bytes }))
}

/// The body of an operation that takes JSON and other media types: decoded
/// as [`body`] does when it comes as one of the JSON media types, else
/// handed over as [`raw_body`] does.
pub async fn payload<T: decode::Decode>(
    op: &OperationSpec,
    options: &RouterOptions,
    parts: &http::request::Parts,
    body: axum::body::Body,
    errors: &mut decode::Errors,
) -> Result<Option<Payload<T>>, Rejection> {
    let Some(spec) = op.body else {
        return Ok(None);
    };
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .is_some_and(|essence| {
            spec.media_types
                .iter()
                .any(|known| known.eq_ignore_ascii_case(essence))
        });
    if json {
        Ok(self::body::<T>(op, options, parts, body, errors)
            .await?
            .map(Payload::Json))
    } else {
        Ok(raw_body(op, options, parts, body).await?.map(Payload::Raw))
    }
}

/// A 415 for an encoded body (`Content-Encoding` other than `identity`:
/// the server decodes none, RFC 9110 section 8.4.1).
fn encoded(headers: &http::HeaderMap) -> Option<Rejection> {
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let codings = value.to_str().unwrap_or("?");
        if codings
            .split(',')
            .map(str::trim)
            .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        {
            return Some(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!("the body must not be encoded; Content-Encoding {codings} is not accepted"),
            ));
        }
    }
    None
}

/// A 415 for a body in a declared media type that still cannot be read as
/// sent: encoded (`Content-Encoding` other than `identity`: the server
/// decodes none, RFC 9110 section 8.4.1), or in a charset other than UTF-8
/// (JSON is UTF-8, RFC 8259 section 8.1).
fn unreadable(headers: &http::HeaderMap) -> Option<Rejection> {
    let refuse = |detail: String| {
        Some(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        ))
    };
    if let Some(refused) = encoded(headers) {
        return Some(refused);
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok());
    if let Some(charset) = media_type.as_ref().and_then(|m| m.get_param(mime::CHARSET))
        && charset != mime::UTF_8
    {
        return refuse(format!(
            "send the body as UTF-8; charset {charset} is not accepted"
        ));
    }
    None
}

/// How much of a too-large body is read and thrown away before the 413, so
/// that the connection closes cleanly and the client sees the answer (a
/// socket closed with unread data is reset, and the reset can destroy the
/// response in flight).
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// The body, at most `limit` bytes; past that a 413. A body that arrives
/// in one chunk (as most do) is handed on as it came, without a copy.
async fn read_body(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, Rejection> {
    use futures::StreamExt;
    let malformed = |e: axum::Error| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "The body could not be read",
            format!("the body could not be read: {e}"),
        )
    };
    let mut stream = body.into_data_stream();
    let mut first: Option<bytes::Bytes> = None;
    let mut buffer = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(malformed)?;
        let held = first.as_ref().map_or(0, bytes::Bytes::len) + buffer.len();
        if held + chunk.len() > limit {
            return Err(too_large(stream, held + chunk.len(), limit).await);
        }
        match first.take() {
            None if buffer.is_empty() => first = Some(chunk),
            None => buffer.extend_from_slice(&chunk),
            Some(earlier) => {
                buffer.reserve(earlier.len() + chunk.len());
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| buffer.freeze()))
}

/// The 413 for a body past `limit`, after reading and throwing away up to
/// `DRAIN_LIMIT` bytes of the rest for at most `DRAIN_TIME`. Boxed, so that
/// the timer and the drain loop take no room in every handler's future.
fn too_large(
    mut stream: axum::body::BodyDataStream,
    mut drained: usize,
    limit: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Rejection> + Send>> {
    use futures::StreamExt;
    Box::pin(async move {
        let drain = async {
            while let Some(Ok(chunk)) = stream.next().await {
                drained += chunk.len();
                if drained > DRAIN_LIMIT {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "The body is too large",
            format!("the body is larger than {limit} bytes"),
        )
        .with_header(header::CONNECTION, "close")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPLOAD: OperationSpec = OperationSpec {
        operation_id: "upload",
        method: "PUT",
        path: "/files",
        statuses: &[204, 413, 415],
        status_classes: &[],
        default_response: false,
        security: &[],
        parameters: &[],
        body: Some(BodySpec {
            media_types: &["application/json"],
            raw_media_types: &["application/xml", "image/*"],
            schema: None,
            max_bytes: None,
        }),
    };

    #[test]
    fn an_operation_that_states_a_limit_has_it_and_others_the_default() {
        const IMAGE: OperationSpec = OperationSpec {
            operation_id: "image",
            method: "PUT",
            path: "/files/{name}/image",
            statuses: &[204, 413],
            status_classes: &[],
            default_response: false,
            security: &[],
            parameters: &[],
            body: Some(BodySpec {
                media_types: &[],
                raw_media_types: &["image/png"],
                schema: None,
                max_bytes: Some(2 << 20),
            }),
        };
        let ops = [&UPLOAD, &IMAGE];
        let limit = |method: http::Method, path| body_limit(&ops, &method, path, 64);
        assert_eq!(limit(http::Method::PUT, "/files/a/image"), 2 << 20);
        assert_eq!(limit(http::Method::POST, "/files/a/image"), 64);
        assert_eq!(limit(http::Method::PUT, "/files"), 64);
        assert_eq!(limit(http::Method::PUT, "/files/a"), 64);
    }

    fn put_files(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder().method("PUT").uri("/files");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn media_types_match_as_written_or_under_a_wildcard() {
        assert!(media_matches("application/xml", "Application/XML"));
        assert!(media_matches("image/*", "image/png"));
        assert!(!media_matches("image/*", "text/png"));
        assert!(media_matches("*/*", "anything/at-all"));
        assert!(!media_matches("application/xml", "application/xml-dtd"));
    }

    #[tokio::test]
    async fn a_raw_body_is_handed_over_as_sent_or_refused() {
        let options = RouterOptions {
            body_limit: 8,
            ..RouterOptions::default()
        };
        let read = |headers: &'static [(&str, &str)], body: &'static str| async move {
            raw_body(
                &UPLOAD,
                &options,
                &put_files(headers),
                axum::body::Body::from(body),
            )
            .await
        };
        let png = read(&[("content-type", "image/png")], "\u{89}PNG")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(png.media_type, "image/png");
        assert_eq!(&png.bytes[..], "\u{89}PNG".as_bytes());
        let xml = read(
            &[("content-type", "application/xml; charset=utf-8")],
            "<a/>",
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(xml.media_type, "application/xml; charset=utf-8");
        let status =
            |r: Result<Option<RawBody>, Rejection>| r.unwrap_err().into_response().status();
        // Not a media type the operation takes, none at all, encoded, too large.
        assert_eq!(
            status(read(&[("content-type", "text/plain")], "a").await),
            415
        );
        assert_eq!(status(read(&[], "a").await), 415);
        assert_eq!(
            status(
                read(
                    &[("content-type", "image/png"), ("content-encoding", "gzip")],
                    "a"
                )
                .await
            ),
            415
        );
        assert_eq!(
            status(read(&[("content-type", "image/png")], "123456789").await),
            413
        );
    }

    #[tokio::test]
    async fn a_payload_is_json_when_sent_as_json() {
        let options = RouterOptions::default();
        let mut errors = decode::Errors::default();
        let json = payload::<serde_json::Value>(
            &UPLOAD,
            &options,
            &put_files(&[("content-type", "application/json")]),
            axum::body::Body::from("{\"a\":1}"),
            &mut errors,
        )
        .await
        .unwrap();
        assert!(matches!(json, Some(Payload::Json(_))), "{json:?}");
        let raw = payload::<serde_json::Value>(
            &UPLOAD,
            &options,
            &put_files(&[("content-type", "application/xml")]),
            axum::body::Body::from("<a/>"),
            &mut errors,
        )
        .await
        .unwrap();
        assert!(
            matches!(raw, Some(Payload::Raw(ref b)) if &b.bytes[..] == b"<a/>"),
            "{raw:?}"
        );
    }

    #[test]
    fn a_lent_body_serializes_as_a_given_one() {
        let given: Body<Vec<&str>> = vec!["a", "b"].into();
        let shared = std::sync::Arc::new(vec!["a", "b"]);
        let lent: Body<Vec<&str>> = std::sync::Arc::clone(&shared).into();
        assert_eq!(
            serde_json::to_string(&given).unwrap(),
            serde_json::to_string(&lent).unwrap()
        );
        assert!(matches!(lent, Body::Shared(_)));
        // Lent, not copied: the response holds the same allocation.
        assert_eq!(std::sync::Arc::strong_count(&shared), 2);
    }

    fn chunked(chunks: &[&'static str]) -> axum::body::Body {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from_static(c.as_bytes())))
            .collect();
        axum::body::Body::from_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_handed_on_and_chunks_are_joined() {
        let one = bytes::Bytes::from_static(b"{\"a\":1}");
        let read = read_body(axum::body::Body::from(one.clone()), 64)
            .await
            .unwrap();
        assert_eq!(read, one);
        assert_eq!(read.as_ptr(), one.as_ptr(), "one chunk is not copied");

        let read = read_body(chunked(&["{\"a\"", ":", "1}"]), 64)
            .await
            .unwrap();
        assert_eq!(&read[..], b"{\"a\":1}");
        let read = read_body(chunked(&["ab", "cd"]), 4).await.unwrap();
        assert_eq!(&read[..], b"abcd");
    }

    #[tokio::test]
    async fn a_body_past_the_limit_in_any_chunk_is_a_413() {
        for chunks in [&["abcde"][..], &["ab", "cde"], &["ab", "cd", "e"]] {
            let refused = read_body(chunked(chunks), 4).await.unwrap_err();
            assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE, "{chunks:?}");
        }
    }

    pub(super) fn spec(security: &'static [&'static [SchemeSpec]]) -> OperationSpec {
        OperationSpec {
            operation_id: "op",
            method: "GET",
            path: "/things",
            statuses: &[200, 404],
            status_classes: &[5],
            default_response: false,
            security,
            parameters: &[],
            body: None,
        }
    }

    pub(super) fn caller(scopes: &[&str]) -> Caller {
        Caller {
            subject: "s".into(),
            account: "a".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            switchable_accounts: BTreeSet::new(),
            organizations: BTreeSet::new(),
        }
    }

    /// Accepts the token `good` (scope `things:read`); `open` says whether
    /// anonymous callers get claims.
    struct Tokens {
        open: bool,
    }

    /// The claims of the token `good` (scope `things:read`); any other
    /// token is refused.
    pub(super) fn good_token(token: &str) -> Result<Caller, AuthError> {
        if token == "good" {
            Ok(caller(&["things:read"]))
        } else {
            Err(AuthError("unknown token".into()))
        }
    }

    impl Authenticator for Tokens {
        type Claims = Caller;
        async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
            good_token(token)
        }
        fn anonymous(&self) -> Option<Caller> {
            self.open.then(|| caller(&[]))
        }
    }

    fn parts(token: Option<&str>) -> http::request::Parts {
        let mut request = http::Request::builder().uri("/things");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn an_open_operation_takes_anonymous_callers_when_the_implementation_has_them() {
        let open = spec(&[]);
        let anonymous = authorize(&Tokens { open: true }, &open, &parts(None)).await;
        assert_eq!(anonymous.unwrap().scopes.len(), 0);
        // A token sent to an open operation is still checked.
        let bad = authorize(&Tokens { open: true }, &open, &parts(Some("bad"))).await;
        assert_eq!(bad.unwrap_err().status, StatusCode::UNAUTHORIZED);
        let good = authorize(&Tokens { open: true }, &open, &parts(Some("good"))).await;
        assert!(good.unwrap().has_scope("things:read"));
        // No anonymous claims: a call without a token is a 401.
        let closed = authorize(&Tokens { open: false }, &open, &parts(None)).await;
        assert_eq!(closed.unwrap_err().status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_secured_operation_needs_a_token_with_every_scope() {
        let tokens = Tokens { open: true };
        const fn bearer(scopes: &'static [&'static str]) -> SchemeSpec {
            SchemeSpec {
                name: "token",
                kind: SchemeKind::Bearer,
                scopes,
            }
        }
        const READ: &[&[SchemeSpec]] = &[&[bearer(&["things:read"])]];
        let read = spec(READ);
        assert_eq!(
            authorize(&tokens, &read, &parts(None))
                .await
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED,
            "anonymous claims are for open operations only"
        );
        assert!(
            authorize(&tokens, &read, &parts(Some("good")))
                .await
                .is_ok()
        );
        const BOTH: &[&[SchemeSpec]] = &[&[bearer(&["things:read", "things:write"])]];
        let both = spec(BOTH);
        let refused = authorize(&tokens, &both, &parts(Some("good")))
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.detail.contains("things:write"),
            "{}",
            refused.detail
        );
        const ANY_TOKEN: &[&[SchemeSpec]] = &[&[bearer(&[])]];
        let any_token = spec(ANY_TOKEN);
        assert!(
            authorize(&tokens, &any_token, &parts(Some("good")))
                .await
                .is_ok()
        );
    }

    #[test]
    fn a_ranged_problem_outside_its_range_is_a_loud_500() {
        let problem = |status| Rejection::new(status, "x", "X", "x");
        let status = |class, status| ranged(class, problem(status)).status();
        assert_eq!(status(4, StatusCode::NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(status(5, StatusCode::BAD_GATEWAY), StatusCode::BAD_GATEWAY);
        assert_eq!(
            status(0, StatusCode::CONFLICT),
            StatusCode::CONFLICT,
            "default"
        );
        let outside = ranged(4, problem(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(outside.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            status(0, StatusCode::OK),
            StatusCode::INTERNAL_SERVER_ERROR,
            "a default problem is an error"
        );
    }

    #[test]
    fn documented_statuses_are_codes_ranges_or_default() {
        let op = spec(&[]);
        assert!(op.documents(StatusCode::NOT_FOUND));
        assert!(op.documents(StatusCode::SERVICE_UNAVAILABLE), "5XX");
        assert!(!op.documents(StatusCode::CONFLICT));
        let with_default = OperationSpec {
            default_response: true,
            ..op
        };
        assert!(with_default.documents(StatusCode::CONFLICT));
    }
}
