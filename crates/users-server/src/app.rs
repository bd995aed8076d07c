//! The whole server as one `axum::Router`: the generated API over the
//! service, Swagger UI and the documents, the probes, a span and log line
//! per request under its request id, metrics per operation, and a
//! per-client rate limit answered with a problem; beside it the admin
//! router that serves the metrics.

use std::sync::Arc;

use axum::response::IntoResponse;
use http::StatusCode;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use users_api::{Rejection, RouterOptions};

use crate::auth::JwtVerifier;
use crate::observe::{self, Metrics, Readiness};
use crate::service::{Service, Settings};
use crate::store::Store;

/// The default of [`AppOptions::max_concurrent_requests`].
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 512;

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
        service,
        RouterOptions {
            body_limit: options.body_limit,
            // The observe layer names each response's operation.
            operation_ids: true,
        },
    )
    .merge(users_api::docs::docs_router());
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
    let api = observe::observed(api, metrics.clone());
    App {
        router: observe::probes(readiness.clone()).merge(api),
        admin: observe::admin_router(metrics.clone(), readiness.clone()),
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
