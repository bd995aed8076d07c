//! Logs to stderr (`RUST_LOG`, default `info`) and, when the standard
//! `OTEL_*` variables ask for it, OpenTelemetry traces over OTLP/HTTP
//! (protobuf). Export is off unless `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER=otlp` is
//! set; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns it off
//! again. The exporter reads the rest (`OTEL_EXPORTER_OTLP_HEADERS`,
//! `..._TIMEOUT`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the
//! batch settings) itself. Each request's span (see `observe::observe`) is
//! named after its operationId and carries the request id.

use anyhow::{Context, bail};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The service name traces carry when `OTEL_SERVICE_NAME` is not set.
pub const SERVICE_NAME: &str = "users-server";

/// Whether the `OTEL_*` variables (read through `var`) turn trace export on.
pub fn otlp_requested(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<bool> {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    let exporter = var("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase());
    let requested = match exporter.as_deref() {
        Some("none") => return Ok(false),
        Some("otlp") => true,
        Some("") | None => {
            set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        }
        Some(other) => bail!("OTEL_TRACES_EXPORTER={other} is not supported: use otlp or none"),
    };
    if requested {
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = var(name)
                && protocol.trim() != "http/protobuf"
            {
                bail!("{name}={protocol} is not supported: traces are exported as http/protobuf");
            }
        }
    }
    Ok(requested)
}

/// Trace export, flushed by [`Telemetry::shutdown`].
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("OpenTelemetry: {err}");
        }
    }
}

/// Installs the global subscriber: logs to stderr, and spans to OTLP when
/// [`otlp_requested`].
pub fn init() -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let provider = if otlp_requested(|name| std::env::var(name).ok())? {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .context("the OTLP span exporter")?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(SERVICE_NAME);
        }
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource.build())
                .build(),
        )
    } else {
        None
    };
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(SERVICE_NAME)));
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .context("installing the tracing subscriber")?;
    if provider.is_some() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn export_is_off_by_default() {
        assert!(!otlp_requested(env(&[])).unwrap());
        assert!(!otlp_requested(env(&[("OTEL_SERVICE_NAME", "x")])).unwrap());
    }

    #[test]
    fn an_endpoint_or_the_exporter_turns_it_on() {
        assert!(
            otlp_requested(env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:4318"
            )]))
            .unwrap()
        );
        assert!(
            otlp_requested(env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:4318/v1/traces"
            )]))
            .unwrap()
        );
        assert!(otlp_requested(env(&[("OTEL_TRACES_EXPORTER", "otlp")])).unwrap());
    }

    #[test]
    fn disabling_wins() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert!(!otlp_requested(env(&[endpoint, ("OTEL_SDK_DISABLED", "true")])).unwrap());
        assert!(!otlp_requested(env(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")])).unwrap());
    }

    #[test]
    fn unsupported_settings_are_errors_not_silence() {
        assert!(otlp_requested(env(&[("OTEL_TRACES_EXPORTER", "zipkin")])).is_err());
        assert!(
            otlp_requested(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]))
            .is_err()
        );
        assert!(
            otlp_requested(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ]))
            .unwrap()
        );
    }
}
