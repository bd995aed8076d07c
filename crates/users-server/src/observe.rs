//! What operators watch: a span and a log line per request under its id
//! (tower-http's request-id and trace layers),
//! Prometheus metrics per operation, and the liveness and readiness probes.
//!
//! The probes answer on the API port, outside `/v1` and outside the rate
//! limit, the metrics and the request log: a load balancer or kubelet must
//! reach them where it reaches the API, and probing must not count as
//! traffic. The metrics are served only by [`admin_router`], which `main`
//! binds to a separate listener (loopback by default), never by the public
//! router.
//!
//! Each [`Metrics`] owns its registry (`prometheus-client`), so two servers
//! in one process (the tests run many) never share counters, and a server
//! with metrics off records nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use opentelemetry::trace::TraceContextExt as _;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use users_api::Rejection;
use users_api::runtime::{FieldCodes, OperationId, REQUEST_ID};

use crate::store::PoolStats;

/// The `operation` label of requests no operation answered (unknown routes,
/// the documents, Swagger UI, refusals before routing such as a 429).
pub const NO_OPERATION: &str = "none";

/// How long a readiness probe waits for the database.
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// The server's metrics and the registry that serves them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    refusals: Family<CodeLabels, Counter>,
    precondition_failed: Counter,
    precondition_required: Counter,
    rate_limited: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Metrics {
    /// Metrics for a server whose pools `pools` reports and whose
    /// idempotent replays `replays` counts.
    pub fn new(
        pools: impl Fn() -> Vec<PoolStats> + Send + Sync + 'static,
        replays: Counter,
    ) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "users_http_requests",
            "Requests answered, by operationId and status",
            requests.clone(),
        );
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "users_http_request_duration_seconds",
            "Time from receiving a request to its response head, by operationId",
            latency.clone(),
        );
        let refusals = Family::<CodeLabels, Counter>::default();
        registry.register(
            "users_validation_refusals",
            "Field errors in refused requests, by the field error's code",
            refusals.clone(),
        );
        let precondition_failed = Counter::default();
        registry.register(
            "users_http_precondition_failed",
            "412 answers: If-Match named a version the user is no longer at",
            precondition_failed.clone(),
        );
        let precondition_required = Counter::default();
        registry.register(
            "users_http_precondition_required",
            "428 answers: a change without If-Match where the server requires it",
            precondition_required.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "users_http_rate_limited",
            "429 answers: a client over its rate",
            rate_limited.clone(),
        );
        registry.register(
            "users_idempotency_replays",
            "Creates answered from the stored response of an earlier request with the same Idempotency-Key",
            replays,
        );
        registry.register_collector(Box::new(PoolCollector {
            stats: Box::new(pools),
        }));
        Self {
            registry,
            requests,
            latency,
            refusals,
            precondition_failed,
            precondition_required,
            rate_limited,
        }
    }

    /// Records one answered request.
    pub fn record(&self, operation: &'static str, response: &Response, elapsed: Duration) {
        let status = response.status();
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
        match status {
            StatusCode::PRECONDITION_FAILED => {
                self.precondition_failed.inc();
            }
            StatusCode::PRECONDITION_REQUIRED => {
                self.precondition_required.inc();
            }
            StatusCode::TOO_MANY_REQUESTS => {
                self.rate_limited.inc();
            }
            _ => {}
        }
        if status == StatusCode::BAD_REQUEST
            && let Some(FieldCodes(codes)) = response.extensions().get::<FieldCodes>()
        {
            for code in codes {
                self.refusals
                    .get_or_create(&CodeLabels { code: code.clone() })
                    .inc();
            }
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// A pool counter: its name, help and how to read it from [`PoolStats`].
type PoolCounter = (&'static str, &'static str, fn(&PoolStats) -> u64);

/// The pools' gauges and counters, read from the store at each scrape.
struct PoolCollector {
    stats: Box<dyn Fn() -> Vec<PoolStats> + Send + Sync>,
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCollector").finish_non_exhaustive()
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let pools = (self.stats)();
        let mut metric = encoder.encode_descriptor(
            "users_db_pool_connections",
            "Open database connections, by pool and state (in_use, idle).",
            None,
            MetricType::Gauge,
        )?;
        for pool in &pools {
            let in_use = i64::from(pool.open.saturating_sub(pool.idle));
            for (state, value) in [("in_use", in_use), ("idle", i64::from(pool.idle))] {
                let labels = [("pool", pool.name), ("state", state)];
                ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "users_db_pool_max_connections",
            "The most connections each pool opens.",
            None,
            MetricType::Gauge,
        )?;
        for pool in &pools {
            ConstGauge::new(i64::from(pool.max))
                .encode(metric.encode_family(&[("pool", pool.name)])?)?;
        }
        let counters: [PoolCounter; 3] = [
            ("users_db_pool_acquires", "Connections handed out.", |p| {
                p.acquires
            }),
            (
                "users_db_pool_waits",
                "Acquires that found no idle connection and waited.",
                |p| p.waits,
            ),
            (
                "users_db_pool_timeouts",
                "Acquires that gave up after the acquire timeout.",
                |p| p.timeouts,
            ),
        ];
        for (name, help, value) in counters {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for pool in &pools {
                ConstCounter::new(value(pool))
                    .encode(metric.encode_family(&[("pool", pool.name)])?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "users_db_pool_wait_seconds",
            "Time spent waiting for a connection.",
            None,
            MetricType::Counter,
        )?;
        for pool in &pools {
            ConstCounter::new(pool.wait_seconds)
                .encode(metric.encode_family(&[("pool", pool.name)])?)?;
        }
        Ok(())
    }
}

/// Wraps `router` in what every request passes through, outermost first:
/// a client's `x-request-id` that is not sane (see
/// `users_api::runtime::request_id`) is dropped; tower-http's
/// `SetRequestId` gives the request an id (the client's, or a new UUID) and
/// `PropagateRequestId` echoes it on every response (a 429 from the rate
/// limit included); tower-http's `TraceLayer` opens the request's span,
/// named by its id, which covers the handler, the service and the database
/// calls, and logs one line when the response leaves; [`record`] names the
/// operation, scopes the id for problem bodies and records the metrics.
/// Bodies are never logged: they may hold passwords.
pub fn observed(router: axum::Router, metrics: Option<Arc<Metrics>>) -> axum::Router {
    router
        .layer(axum::middleware::from_fn_with_state(metrics, record))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(|_: &http::Request<axum::body::Body>, _: &tracing::Span| {
                    tracing::trace!("request received");
                })
                .on_response(
                    |response: &Response, latency: Duration, _: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            millis = latency.as_millis() as u64,
                            "request served"
                        );
                    },
                )
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_insane_request_id))
}

/// Removes an `x-request-id` that is not
/// `users_api::runtime::is_sane_request_id`, so that `SetRequestId` makes a
/// new one: a client's id goes into every log line, and must not forge or
/// break them.
async fn drop_insane_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    if request
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|sent| !users_api::runtime::is_sane_request_id(sent))
    {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// The request's span: its id, method, path and client; the operation and
/// status are recorded when known.
fn request_span(request: &http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = id,
        method = %request.method(),
        path = request.uri().path(),
        %client,
        operation_id = tracing::field::Empty,
        status = tracing::field::Empty,
        otel.kind = "server",
    )
}

/// Inside the request's span: scopes the request id for the problems built
/// while handling it, then names the operation that answered (on the span,
/// and on the OpenTelemetry span, which started when the request entered
/// it) and records the metrics when they are on.
async fn record(
    State(metrics): State<Option<Arc<Metrics>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let id = users_api::runtime::request_id(request.headers());
    let response = users_api::runtime::with_request_id(id, next.run(request)).await;
    let operation = response
        .extensions()
        .get::<OperationId>()
        .map_or(NO_OPERATION, |op| op.0);
    let span = tracing::Span::current();
    span.record("operation_id", operation);
    span.record("status", response.status().as_u16());
    span.context().span().update_name(operation);
    if let Some(metrics) = &metrics {
        metrics.record(operation, &response, started.elapsed());
    }
    response
}

/// Whether the server should get traffic: it is not draining and its
/// database answers.
#[derive(Clone)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
    ping: Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.is_draining())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Readiness that asks `ping` whether the database answers.
    pub fn new(
        ping: impl Fn() -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            draining: Arc::default(),
            ping: Arc::new(ping),
        }
    }

    /// From now on readiness answers 503: the server is shutting down and
    /// finishes the requests it has.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Readiness::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// `Ok` when the server should get traffic, else why not.
    pub async fn check(&self) -> Result<(), NotReady> {
        if self.is_draining() {
            return Err(NotReady::Draining);
        }
        match tokio::time::timeout(READINESS_TIMEOUT, (self.ping)()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(NotReady::Database(err)),
            Err(_) => Err(NotReady::Database(format!(
                "no answer within {} ms",
                READINESS_TIMEOUT.as_millis()
            ))),
        }
    }
}

/// Why [`Readiness::check`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// The server is shutting down.
    Draining,
    /// The database failed or did not answer in time (the error is logged,
    /// never sent: it may name hosts and users).
    Database(String),
}

impl NotReady {
    /// What the probe's problem says.
    pub fn public_detail(&self) -> &'static str {
        match self {
            Self::Draining => "the server is shutting down",
            Self::Database(_) => "the database does not answer",
        }
    }
}

/// `GET /healthz` and `GET /readyz`.
pub fn probes(readiness: Readiness) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .with_state(readiness)
}

/// Liveness: the process runs and serves HTTP. It asks nothing else, so a
/// database outage never makes an orchestrator restart healthy servers.
async fn live() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "status": "ok" })),
    )
        .into_response()
}

/// Readiness: 200 while the database answers and the server is not
/// draining, else a 503 problem saying which.
async fn ready(State(readiness): State<Readiness>, headers: http::HeaderMap) -> Response {
    let id = users_api::runtime::request_id(&headers);
    let mut response =
        users_api::runtime::with_request_id(id.clone(), readiness_answer(readiness)).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

async fn readiness_answer(readiness: Readiness) -> Response {
    match readiness.check().await {
        Ok(()) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response(),
        Err(reason) => {
            tracing::warn!(?reason, "not ready");
            let mut response = Rejection::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "The server is not ready",
                reason.public_detail(),
            )
            .into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            response
        }
    }
}

/// The admin listener's router: `/metrics` (when `metrics` is on) and the
/// probes.
pub fn admin_router(metrics: Option<Arc<Metrics>>, readiness: Readiness) -> axum::Router {
    let router = probes(readiness);
    match metrics {
        Some(metrics) => router.route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        ),
        None => router,
    }
}
