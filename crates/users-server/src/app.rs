//! The whole server as one `axum::Router`: the generated API over the
//! service, Swagger UI and the documents, the probes, a span and log line
//! per request under its request id, metrics per operation, and a
//! per-client rate limit answered with a problem; beside it the admin
//! router that serves the metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use users_api::runtime::OperationSpec;
use users_api::{Rejection, RouterOptions};

use crate::auth::JwtVerifier;
use crate::observe::{self, Metrics, Readiness};
use crate::service::{Service, Settings};
use crate::store::Store;

/// The default of [`AppOptions::max_concurrent_requests`].
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 512;

/// The default of [`AppOptions::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Who may read Swagger UI, the reference page and the API documents
/// (`/docs/`, `/reference/`, `/openapi.json`, `/openapi.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocsAccess {
    /// Anyone.
    #[default]
    Public,
    /// Callers with a valid bearer token (any scope).
    Token,
    /// Nobody: the documents are not served.
    Off,
}

impl std::str::FromStr for DocsAccess {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "public" => Ok(Self::Public),
            "token" => Ok(Self::Token),
            "off" => Ok(Self::Off),
            _ => Err(format!("{text}: give public, token or off")),
        }
    }
}

/// How the server serves.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// Requests per second per client address; 0 turns the limit off.
    pub rate_limit: u32,
    /// Requests a client may send at once above the rate.
    pub rate_burst: u32,
    /// Record Prometheus metrics (served by [`App::admin`]).
    pub metrics: bool,
    /// Requests served at once; past it the server sheds load with a 503
    /// problem and `Retry-After` instead of queueing without bound. 0 turns
    /// the limit off.
    pub max_concurrent_requests: usize,
    /// How long a request's body may take to arrive, all of it; past it
    /// the answer is a `408` problem and the connection is closed. The body
    /// is read before the request takes one of the
    /// [`max_concurrent_requests`](Self::max_concurrent_requests) slots, so
    /// a client that sends it slowly holds none.
    pub body_read_timeout: Duration,
    /// Who may read the documents and Swagger UI.
    pub docs: DocsAccess,
    /// The service's settings.
    pub settings: Settings,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            body_limit: users_api::runtime::DEFAULT_BODY_LIMIT,
            rate_limit: 0,
            rate_burst: 1,
            metrics: true,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            docs: DocsAccess::Public,
            settings: Settings::default(),
        }
    }
}

/// A server: the public router, the admin router, and the handles that
/// reach into them.
#[derive(Debug)]
pub struct App {
    /// The API, Swagger UI, the documents and the probes. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()`: the rate limit
    /// keys on the client address.
    pub router: axum::Router,
    /// `/metrics` (when metrics are on) and the probes, for a listener of
    /// its own that is not exposed to the internet.
    pub admin: axum::Router,
    /// Readiness, to drain on shutdown.
    pub readiness: Readiness,
    /// The metrics, when on.
    pub metrics: Option<Arc<Metrics>>,
}

/// The server over `store`; see [`App`].
pub fn build<S: Store>(store: S, verifier: JwtVerifier, options: AppOptions) -> App {
    let service = Arc::new(Service::new(store, verifier, options.settings));
    let metrics = options.metrics.then(|| {
        let pools = service.clone();
        Arc::new(Metrics::new(
            move || pools.store().pool_stats(),
            service.idempotency_replays(),
        ))
    });
    let pinged = service.clone();
    let readiness = Readiness::new(move || {
        let service = pinged.clone();
        Box::pin(async move { service.store().ping().await.map_err(|e| e.to_string()) })
    });
    let mut api = users_api::router_with(
        service.clone(),
        RouterOptions {
            body_limit: options.body_limit,
            // The observe layer names each response's operation.
            operation_ids: true,
        },
    );
    // SCIM under `/scim/v2/`, served by its own generated router (SCIM
    // errors for its unknown routes too) over the same service.
    let scim = scim_api::router_with(
        service.clone(),
        RouterOptions {
            body_limit: options.body_limit,
            operation_ids: true,
        },
    );
    api = api.route_service("/scim/v2/{*rest}", scim.into_service::<axum::body::Body>());
    match options.docs {
        DocsAccess::Public => api = api.merge(documents()),
        DocsAccess::Token => {
            api = api.merge(documents().layer(axum::middleware::from_fn_with_state(
                service.clone(),
                with_token::<S>,
            )));
        }
        DocsAccess::Off => {}
    }
    if options.rate_limit > 0 {
        api = rate_limited(api, options.rate_limit, options.rate_burst);
    }
    if options.max_concurrent_requests > 0 {
        api = api.layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                // Global: `Router::layer` gives each route its own copy of
                // a layer, and the limit is the server's, not a route's.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    options.max_concurrent_requests,
                )),
        );
    }
    let api = api
        .layer(axum::middleware::from_fn_with_state(
            BodyRead {
                limit: options.body_limit,
                timeout: options.body_read_timeout,
            },
            read_body_first,
        ))
        .layer(axum::middleware::from_fn(safe_answers));
    let api = observe::observed(api, metrics.clone());
    App {
        router: observe::probes(readiness.clone())
            .layer(axum::middleware::from_fn(safe_answers))
            .merge(api),
        admin: observe::admin_router(metrics.clone(), readiness.clone())
            .layer(axum::middleware::from_fn(safe_answers)),
        readiness,
        metrics,
    }
}

/// The public router of [`build`].
pub fn app<S: Store>(store: S, verifier: JwtVerifier, options: AppOptions) -> axum::Router {
    build(store, verifier, options).router
}

/// The per-address rate limit: throttled requests are a 429 problem with
/// `Retry-After`; any other limiter error is a logged 500 problem.
fn rate_limited(router: axum::Router, rate: u32, burst: u32) -> axum::Router {
    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1_000_000_000 / u64::from(rate))
        .burst_size(burst.max(1))
        .finish()
        .expect("a rate and burst above zero");
    router.layer(GovernorLayer::new(Arc::new(config)).error_handler(|error| {
        let wait = match &error {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => *wait_time,
            // Not throttling: the limiter could not key the request (no
            // client address) or failed otherwise. That is the server's
            // fault, not the client's rate.
            other => {
                tracing::error!(error = %other, "the rate limiter failed");
                return Rejection::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the rate limiter could not handle the request",
                )
                .into_response();
            }
        };
        Rejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("try again in {} seconds", wait.max(1)),
        )
        .with_header(http::header::RETRY_AFTER, wait.max(1).to_string())
        .into_response()
    }))
}

/// The answer when every request slot is taken: shed, not queued.
async fn overloaded(error: tower::BoxError) -> axum::response::Response {
    if !error.is::<tower::load_shed::error::Overloaded>() {
        tracing::error!(%error, "the concurrency limit failed");
    }
    Rejection::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "The server is overloaded",
        "every request slot is taken; retry in a second",
    )
    .with_header(http::header::RETRY_AFTER, "1")
    .into_response()
}

/// Swagger UI and the documents, with a content security policy that lets
/// the page load nothing from anywhere but this server.
/// Where the SCIM spec is served (beside the Users API's, in Swagger UI's
/// list of documents).
pub const SCIM_SPEC_YAML_PATH: &str = "/scim/openapi.yaml";
/// Where the SCIM contract's generated document is served.
pub const SCIM_SPEC_JSON_PATH: &str = "/scim/openapi.json";

fn documents() -> axum::Router {
    use users_api::docs::Url;
    use utoipa::OpenApi;
    users_api::docs::docs_router_with(vec![
        Url::new("SCIM 2.0 provisioning (OpenAPI 3.0.3)", SCIM_SPEC_YAML_PATH),
        Url::new(
            "SCIM 2.0, the generated document (OpenAPI 3.1)",
            SCIM_SPEC_JSON_PATH,
        ),
    ])
    .route(
        SCIM_SPEC_YAML_PATH,
        axum::routing::get(|| async {
            (
                [(header::CONTENT_TYPE, "application/yaml")],
                scim_api::SPEC_YAML,
            )
        }),
    )
    .route(
        SCIM_SPEC_JSON_PATH,
        axum::routing::get(|| async { axum::Json(scim_api::ApiDoc::openapi()) }),
    )
    .layer(axum::middleware::map_response(
        |mut response: Response| async move {
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
            );
            response
        },
    ))
}

/// The pages' scripts come from this server; their styles are set inline
/// (Swagger UI's `style` attributes, Redoc's generated style sheets), their
/// images include `data:` URLs and, for an image an operation answered in
/// Swagger UI, the `blob:` URL the page makes of it; Redoc's search runs in
/// a worker made from a `blob:` URL.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// What [`with_token`] asks of a caller: any valid bearer token.
const ANY_TOKEN: OperationSpec = OperationSpec {
    operation_id: "documents",
    method: "GET",
    path: "/docs",
    statuses: &[200, 401],
    status_classes: &[],
    default_response: false,
    security: &[&[users_api::runtime::SchemeSpec {
        name: "bearerAuth",
        kind: users_api::runtime::SchemeKind::Bearer,
        scopes: &[],
    }]],
    parameters: &[],
    body: None,
};

/// The documents for callers with a valid bearer token only.
async fn with_token<S: Store>(
    State(service): State<Arc<Service<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match users_api::runtime::authorize(&*service, &ANY_TOKEN, &parts).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(refused) => refused.into_response(),
    }
}

/// How [`read_body_first`] reads bodies.
#[derive(Debug, Clone, Copy)]
struct BodyRead {
    limit: usize,
    timeout: Duration,
}

/// How much of a body past the limit is read and thrown away, within the
/// body's deadline, before the `413`: enough for the client to see the
/// answer rather than a reset connection.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Reads the request's body before the request goes on to the
/// concurrency limit and the handler, within `timeout` for all of it: a body
/// that is still arriving then is a `408` and the connection closes. A body
/// past `limit` is a `413` here, after up to [`DRAIN_LIMIT`] more bytes
/// are read and thrown away within the same deadline. So a client holds a
/// request slot only once its whole body is in, however slowly it sends.
async fn read_body_first(State(read): State<BodyRead>, request: Request, next: Next) -> Response {
    use axum::body::HttpBody as _;
    use futures::StreamExt;
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // An operation that states its own limit (an image upload) has it here.
    let limit = users_api::runtime::body_limit(
        users_api::operation_specs::ALL,
        &parts.method,
        parts.uri.path(),
        read.limit,
    );
    let mut stream = body.into_data_stream();
    let mut chunks = Vec::new();
    let deadline = tokio::time::Instant::now() + read.timeout;
    let reading = async {
        let mut held = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            held += chunk.len();
            if held > limit {
                return Ok(false);
            }
            chunks.push(chunk);
        }
        Ok::<bool, axum::Error>(true)
    };
    let body = match tokio::time::timeout_at(deadline, reading).await {
        Ok(Ok(true)) => match chunks.len() {
            1 => axum::body::Body::from(chunks.pop().expect("one chunk")),
            _ => axum::body::Body::from(chunks.concat()),
        },
        Ok(Ok(false)) => {
            let drain = async {
                let mut drained = 0;
                while let Some(Ok(chunk)) = stream.next().await {
                    drained += chunk.len();
                    if drained > DRAIN_LIMIT {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout_at(deadline, drain).await;
            return Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
                format!("the body is larger than {limit} bytes"),
            )
            .with_header(header::CONNECTION, "close")
            .into_response();
        }
        Ok(Err(err)) => {
            return Rejection::new(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "The body could not be read",
                format!("the body could not be read: {err}"),
            )
            .with_header(header::CONNECTION, "close")
            .into_response();
        }
        Err(_) => {
            return Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "The body took too long",
                format!(
                    "the body did not arrive within {} seconds",
                    read.timeout.as_secs_f64()
                ),
            )
            .with_header(header::CONNECTION, "close")
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, body)).await
}

/// Headers every answer carries, and a problem document for every error
/// answer that has no body of its own (a `404` of Swagger UI's files, ...):
/// `X-Content-Type-Options: nosniff` everywhere, and `Cache-Control:
/// no-store` on all but Swagger UI's files, since answers carry personal
/// data.
async fn safe_answers(request: Request, next: Next) -> Response {
    let docs = users_api::docs::is_page_path(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let (code, title) = problem_of(status);
        let mut problem =
            Rejection::new(status, code, title, format!("the server answered {status}"))
                .into_response();
        for (name, value) in response.headers() {
            if name != header::CONTENT_LENGTH {
                problem.headers_mut().insert(name.clone(), value.clone());
            }
        }
        *problem.extensions_mut() = std::mem::take(response.extensions_mut());
        response = problem;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !docs && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The problem code and title of an error status.
pub(crate) fn problem_of(status: StatusCode) -> (&'static str, &'static str) {
    let title = status.canonical_reason().unwrap_or("Error");
    let code = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::REQUEST_TIMEOUT => "request-timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::URI_TOO_LONG => "uri-too-long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "header-fields-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::TOO_MANY_REQUESTS => "rate-limited",
        StatusCode::SERVICE_UNAVAILABLE => "overloaded",
        status if status.is_server_error() => "internal",
        _ => "malformed-request",
    };
    (code, title)
}
