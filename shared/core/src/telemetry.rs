//! Logs and traces: `tracing` with pretty or JSON output, and OTLP/HTTP export when an
//! endpoint is configured. W3C trace context comes in through gRPC metadata (see
//! [`crate::layer`]).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

/// Flushes exported spans when dropped; keep it alive for the life of the process.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("could not flush traces: {e}");
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main` and before the tokio
/// runtime starts: the OTLP exporter's blocking HTTP client owns a runtime of its own, which
/// must not be created or dropped inside another.
pub fn init(
    log: &LogConfig,
    telemetry: &TelemetryConfig,
    service_name: &str,
) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(&log.level)?;
    // Logs go to stderr; stdout is for what a command prints as its result.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = match log.format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = match &telemetry.otlp_endpoint {
        Some(endpoint) => Some(otlp_provider(endpoint, service_name)?),
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("crm"))
            .boxed()
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let endpoint = endpoint.trim_end_matches('/');
    let traces = if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

/// Makes `span` a child of the trace in a W3C `traceparent` (e.g. the request that caused an
/// event), so work done later or in another service joins that trace. A missing or malformed
/// value leaves the span where it is.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier =
        std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    use opentelemetry::trace::TraceContextExt as _;
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The W3C `traceparent` of `span` (so what it causes elsewhere, an event or a call to another
/// service, joins its trace as its child), or `None` when traces are not recorded.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = span.context();
    let span_ref = context.span();
    let ids = span_ref.span_context();
    ids.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

/// The `traceparent` of the span the caller runs in (see [`traceparent_of`]).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use super::*;

    fn trace_id_under(traceparent: Option<&str>) -> String {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("event");
            continue_trace(&span, traceparent);
            span.context().span().span_context().trace_id().to_string()
        })
    }

    #[test]
    fn a_span_gives_its_own_traceparent_to_what_it_causes() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc");
            continue_trace(
                &span,
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            );
            let own = traceparent_of(&span).expect("a recorded span has a traceparent");
            let parts: Vec<&str> = own.split('-').collect();
            assert_eq!(
                parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
                "the same trace"
            );
            assert_ne!(
                parts[2], "00f067aa0ba902b7",
                "its own span id, not its parent's"
            );
            let _entered = span.enter();
            assert_eq!(current_traceparent().as_deref(), Some(own.as_str()));
        });
        assert_eq!(
            current_traceparent(),
            None,
            "nothing recorded, nothing to pass on"
        );
    }

    #[test]
    fn a_span_joins_the_trace_of_a_traceparent() {
        assert_eq!(
            trace_id_under(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            )),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn a_malformed_or_missing_traceparent_starts_a_trace_of_its_own() {
        for traceparent in [None, Some("garbage"), Some("00-zz-00f067aa0ba902b7-01")] {
            let id = trace_id_under(traceparent);
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(
                id, "00000000000000000000000000000000",
                "{traceparent:?}: a fresh, valid trace"
            );
        }
    }
}
