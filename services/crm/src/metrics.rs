//! `GET /metrics` (OpenMetrics text) on the serving port: each outbox's unpublished backlog and
//! the age of its oldest unpublished event, and how far behind each embedded-bus consumer group
//! is, read from the stores at scrape time; and where each circuit breaker stands.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use crm_core::breaker::{BreakerState, NamedBreaker};
use futures::future::BoxFuture;
use http::{Request, Response};
use tower::{Layer, Service};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The path scrapers call; answered without a token, like health.
pub const PATH: &str = "/metrics";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Topic {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Breaker {
    breaker: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Group {
    consumer: String,
    topic: String,
}

/// The gauges and what fills them.
#[derive(Clone)]
pub struct Metrics {
    outboxes: Vec<crm_events::OutboxLog>,
    backlog: Family<Topic, Gauge>,
    oldest: Family<Topic, Gauge<f64, AtomicU64>>,
    lag: Family<Group, Gauge>,
    breakers: Vec<NamedBreaker>,
    breaker_state: Family<Breaker, Gauge>,
    registry: Arc<Registry>,
}

impl Metrics {
    /// Metrics over these outboxes and circuit breakers.
    pub fn new(outboxes: Vec<crm_events::OutboxLog>, breakers: Vec<NamedBreaker>) -> Metrics {
        let mut registry = Registry::default();
        let backlog = Family::<Topic, Gauge>::default();
        let oldest = Family::<Topic, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "crm_outbox_backlog",
            "Events in an outbox not yet published",
            backlog.clone(),
        );
        registry.register(
            "crm_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest event in an outbox not yet published (0 when none)",
            oldest.clone(),
        );
        let lag = Family::<Group, Gauge>::default();
        registry.register(
            "crm_consumer_lag",
            "Events after an embedded-bus consumer group's position, still to handle",
            lag.clone(),
        );
        let breaker_state = Family::<Breaker, Gauge>::default();
        registry.register(
            "crm_circuit_breaker_state",
            "1 for the state a circuit breaker is in (closed, half_open, open), 0 for the others",
            breaker_state.clone(),
        );
        Metrics {
            outboxes,
            backlog,
            oldest,
            lag,
            breakers,
            breaker_state,
            registry: Arc::new(registry),
        }
    }

    /// The current values, in the OpenMetrics text format.
    pub async fn render(&self) -> String {
        let now = chrono::Utc::now().timestamp_millis();
        for log in &self.outboxes {
            let labels = Topic {
                topic: log.topic().to_owned(),
            };
            match log.backlog().await {
                Ok(backlog) => {
                    self.backlog.get_or_create(&labels).set(backlog.pending);
                    let age = backlog
                        .oldest
                        .map(|t| (now - t).max(0) as f64 / 1000.0)
                        .unwrap_or(0.0);
                    self.oldest.get_or_create(&labels).set(age);
                }
                Err(e) => {
                    tracing::warn!(topic = log.topic(), error = %e, "cannot read the outbox backlog for metrics")
                }
            }
            match log.consumer_lag().await {
                Ok(groups) => {
                    for group in groups {
                        let labels = Group {
                            consumer: group.consumer,
                            topic: log.topic().to_owned(),
                        };
                        self.lag.get_or_create(&labels).set(group.behind);
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = log.topic(), error = %e, "cannot read consumer positions for metrics")
                }
            }
        }
        for breaker in &self.breakers {
            let now = breaker.watch.state();
            for state in BreakerState::ALL {
                let labels = Breaker {
                    breaker: breaker.name.clone(),
                    state: state.as_str(),
                };
                self.breaker_state
                    .get_or_create(&labels)
                    .set(i64::from(state == now));
            }
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        text
    }
}

/// Answers `GET /metrics`; passes every other request on.
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    /// A layer serving `metrics`.
    pub fn new(metrics: Metrics) -> MetricsLayer {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, ReqBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<tonic::body::Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() == http::Method::GET && request.uri().path() == PATH {
            let metrics = self.metrics.clone();
            return Box::pin(async move {
                let text = metrics.render().await;
                let mut response = Response::new(tonic::body::Body::new(text));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                Ok(response)
            });
        }
        Box::pin(self.inner.call(request))
    }
}
