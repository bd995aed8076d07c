//! The whole server as one `axum::Router`: the generated API over the
//! service, Swagger UI and the documents, a log line per request under its
//! request id, and a per-client rate limit answered with a problem.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use users_api::{Rejection, RouterOptions};

use crate::auth::JwtVerifier;
use crate::service::{Service, Settings};
use crate::store::Store;

/// How the server serves.
#[derive(Debug, Clone, Copy)]
pub struct AppOptions {
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// Requests per second per client address; 0 turns the limit off.
    pub rate_limit: u32,
    /// Requests a client may send at once above the rate.
    pub rate_burst: u32,
    /// The service's settings.
    pub settings: Settings,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            body_limit: users_api::runtime::DEFAULT_BODY_LIMIT,
            rate_limit: 0,
            rate_burst: 1,
            settings: Settings::default(),
        }
    }
}

/// The server over `store`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the rate limit
/// keys on the client address.
pub fn app<S: Store>(store: S, verifier: JwtVerifier, options: AppOptions) -> axum::Router {
    let service = Arc::new(Service::new(store, verifier, options.settings));
    let router = users_api::router_with(
        service,
        RouterOptions {
            body_limit: options.body_limit,
        },
    )
    .merge(users_api::docs::docs_router())
    .layer(axum::middleware::from_fn(log_request));
    if options.rate_limit == 0 {
        return router;
    }
    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1_000_000_000 / u64::from(options.rate_limit))
        .burst_size(options.rate_burst.max(1))
        .finish()
        .expect("a rate and burst above zero");
    let layer = GovernorLayer::new(Arc::new(config)).error_handler(|error| {
        let wait = match &error {
            tower_governor::GovernorError::TooManyRequests { wait_time, .. } => *wait_time,
            _ => 1,
        };
        Rejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("try again in {} seconds", wait.max(1)),
        )
        .with_header(http::header::RETRY_AFTER, wait.max(1).to_string())
        .into_response()
    });
    router.layer(layer)
}

/// One log line per request, under its request id. Bodies are never logged:
/// they may hold passwords.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get(users_api::runtime::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %request_id, %method, %path, %client);
    let response = {
        let _entered = span.enter();
        tracing::trace!("request received");
        drop(_entered);
        next.run(request).await
    };
    let _entered = span.enter();
    tracing::info!(
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request served"
    );
    response
}
