//! `GET /metrics` on the serving port, in the format the scraper asks for (OpenMetrics or the
//! Prometheus text format; see [`crate::exposition`], which adds the process metrics and
//! `crm_build_info`):
//!
//! - every call (gRPC, grpc-web and REST alike, by the gRPC method it reaches): how many, by
//!   status code, and how long until the answer began (RED), counted by [`RedLayer`];
//! - each outbox's unpublished backlog and the age of its oldest unpublished event, and how far
//!   behind each embedded-bus consumer group is, read from the stores at scrape time;
//! - each store's connection pool, and where each circuit breaker stands.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use crm_core::storage::Database;

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

mod red;

use red::Red;
pub use red::{GrpcWebMark, GrpcWebMarkLayer, RedLayer, RedService};

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pool {
    context: &'static str,
    state: &'static str,
}

/// The gauges and what fills them.
#[derive(Clone)]
pub struct Metrics {
    red: Red,
    /// The consumer groups this process runs (group, topic): their series show from 0.
    groups: Vec<(String, String)>,
    /// With events on Kafka: consumer lag comes from the brokers' offsets.
    kafka: Option<crm_events::Kafka>,
    dead_letters: Family<Group, Gauge>,
    databases: Vec<crate::backing::Store>,
    pool: Family<Pool, Gauge>,
    outboxes: Vec<crm_events::OutboxLog>,
    backlog: Family<Topic, Gauge>,
    oldest: Family<Topic, Gauge<f64, AtomicU64>>,
    lag: Family<Group, Gauge>,
    breakers: Vec<NamedBreaker>,
    breaker_state: Family<Breaker, Gauge>,
    registry: Arc<Registry>,
}

impl Metrics {
    /// Metrics of the calls to `services` (full names; other paths count as `unknown`), and
    /// over these stores, outboxes and circuit breakers.
    pub fn new(
        services: &[&str],
        groups: Vec<(String, String)>,
        kafka: Option<crm_events::Kafka>,
        databases: Vec<crate::backing::Store>,
        outboxes: Vec<crm_events::OutboxLog>,
        breakers: Vec<NamedBreaker>,
    ) -> Metrics {
        let mut registry = Registry::default();
        let red = Red::new(services);
        red.register(&mut registry);
        registry.register(
            "crm_notification_deliveries",
            "Notification delivery attempts, by channel (email, sms, in_app) and outcome (sent, retrying, failed)",
            crm_core::metrics::DELIVERIES.clone(),
        );
        registry.register(
            "crm_task_restarts",
            "Background tasks (relays, consumers, workers, watchers) started again after they stopped while the process served",
            crm_core::metrics::TASK_RESTARTS.clone(),
        );
        let dead_letters = Family::<Group, Gauge>::default();
        registry.register(
            "crm_dead_letters",
            "Events a consumer group parked after its retries and that were not redriven yet",
            dead_letters.clone(),
        );
        let pool = Family::<Pool, Gauge>::default();
        registry.register(
            "crm_db_pool_connections",
            "Connections of a context's store pool, by state (idle, in_use)",
            pool.clone(),
        );
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
            "Events a consumer group has yet to handle (its position in the outbox, or its offsets in Kafka)",
            lag.clone(),
        );
        let breaker_state = Family::<Breaker, Gauge>::default();
        registry.register(
            "crm_circuit_breaker_state",
            "1 for the state a circuit breaker is in (closed, half_open, open), 0 for the others",
            breaker_state.clone(),
        );
        crate::exposition::register(&mut registry);
        Metrics {
            red,
            groups,
            kafka,
            dead_letters,
            databases,
            pool,
            outboxes,
            backlog,
            oldest,
            lag,
            breakers,
            breaker_state,
            registry: Arc::new(registry),
        }
    }

    /// Adds each consumer group's waiting (not redriven) dead letters in `db` to `counts`.
    async fn count_dead_letters(
        target: &crm_events::bounded::BoundedContext,
        db: &Database,
        counts: &mut std::collections::BTreeMap<(String, String), i64>,
    ) {
        match crm_events::Inbox::new(db.clone()).dead_letters(None).await {
            Ok(letters) => {
                for letter in letters.into_iter().filter(|l| l.redriven_at.is_none()) {
                    *counts.entry((letter.consumer, letter.topic)).or_default() += 1;
                }
            }
            Err(e) => {
                tracing::warn!(context = target.name, error = %e, "cannot count dead letters for metrics")
            }
        }
    }

    /// Each Kafka consumer group's lag: the brokers' high watermarks against the next offsets
    /// the group keeps in its own store.
    async fn kafka_lag(&self, kafka: &crm_events::Kafka) {
        for topic in crate::Contexts::BUILT_IN.topics() {
            for (target, db) in crate::backing::with_tables(&self.databases) {
                let inbox = crm_events::Inbox::new(db.clone());
                let groups = match inbox.groups_on(topic).await {
                    Ok(groups) => groups,
                    Err(e) => {
                        tracing::warn!(context = target.name, error = %e, "cannot read consumer groups for metrics");
                        continue;
                    }
                };
                for group in groups {
                    let Ok(next) = inbox.offsets(&group, topic).await else {
                        continue;
                    };
                    let kafka = kafka.clone();
                    let lag = tokio::task::spawn_blocking(move || kafka.lag(topic, &next)).await;
                    match lag {
                        Ok(Ok(behind)) => {
                            self.lag
                                .get_or_create(&Group {
                                    consumer: group,
                                    topic: topic.to_owned(),
                                })
                                .set(behind);
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(topic, error = %format!("{e:#}"), "cannot read Kafka offsets for metrics")
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    }

    /// The layer that counts calls into these metrics.
    pub fn red_layer(&self) -> RedLayer {
        RedLayer::new(self.red.clone())
    }

    /// The current values, in the OpenMetrics text format.
    pub async fn render(&self) -> String {
        self.refresh().await;
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        text
    }

    /// Reads what the gauges show from the stores, the outboxes and the breakers.
    async fn refresh(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut letters = std::collections::BTreeMap::new();
        for (target, db) in &self.databases {
            if target.migrations.is_some() {
                Self::count_dead_letters(target, db, &mut letters).await;
            }
            let size = i64::from(db.pool().size());
            let idle = db.pool().num_idle() as i64;
            for (state, value) in [("idle", idle), ("in_use", (size - idle).max(0))] {
                self.pool
                    .get_or_create(&Pool {
                        context: target.name,
                        state,
                    })
                    .set(value);
            }
        }
        if let Some(kafka) = &self.kafka {
            self.kafka_lag(kafka).await;
        }
        // Every group this process runs shows, from 0, so an alert on its increase sees the
        // first dead letter; a group of another process whose letters were all redriven drops
        // out rather than keeping its old count.
        self.dead_letters.clear();
        for (consumer, topic) in &self.groups {
            letters
                .entry((consumer.clone(), topic.clone()))
                .or_insert(0);
        }
        for ((consumer, topic), count) in letters {
            self.dead_letters
                .get_or_create(&Group { consumer, topic })
                .set(count);
        }
        // Every group this process runs shows its lag from 0 (until its first position).
        for (consumer, topic) in &self.groups {
            let _ = self.lag.get_or_create(&Group {
                consumer: consumer.clone(),
                topic: topic.clone(),
            });
        }
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
            let openmetrics = crate::exposition::wants_openmetrics(
                request
                    .headers()
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok()),
            );
            return Box::pin(async move {
                let text = metrics.render().await;
                let (text, content_type) = if openmetrics {
                    (text, crate::exposition::OPENMETRICS)
                } else {
                    (
                        crate::exposition::to_prometheus_text(&text),
                        crate::exposition::PROMETHEUS_TEXT,
                    )
                };
                let mut response = Response::new(tonic::body::Body::new(text));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(content_type),
                );
                Ok(response)
            });
        }
        Box::pin(self.inner.call(request))
    }
}
