//! Watchers that keep the health service in step with what a process depends on: its circuit
//! breakers, its stores and the bus, and the upstreams the edge forwards to.

use std::time::Duration;

use crm_core::config::Target;
use crm_core::storage::Database;
use crm_edge::gateway::Upstream;
use tonic_health::ServingStatus;

use crate::health::Statuses as HealthReporter;

/// How a breaker's state shows in health: open is `NOT_SERVING` (calls through it are refused
/// without trying); closed and half-open (probing) are `SERVING`.
pub(crate) fn breaker_health(state: crm_core::breaker::BreakerState) -> ServingStatus {
    match state {
        crm_core::breaker::BreakerState::Open => ServingStatus::NotServing,
        _ => ServingStatus::Serving,
    }
}

/// Keeps each breaker's health entry in step with its state (checked every 250 ms).
pub(crate) async fn watch_breakers(
    breakers: Vec<crm_core::breaker::NamedBreaker>,
    health: HealthReporter,
) {
    let mut shown: Vec<_> = breakers.iter().map(|b| b.watch.state()).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        for (breaker, shown) in breakers.iter().zip(shown.iter_mut()) {
            let state = breaker.watch.state();
            if state != *shown {
                *shown = state;
                tracing::info!(breaker = %breaker.name, state = state.as_str(), "circuit breaker");
                health
                    .set_service_status(breaker.health_name(), breaker_health(state))
                    .await;
            }
        }
    }
}

/// How often the stores are asked whether they answer (readiness).
const STORES_EVERY: Duration = Duration::from_secs(2);

/// Keeps readiness in step with the stores and the bus: the process (`""`) and its own services
/// are `NOT_SERVING` while any store (or Kafka, when the events go there) does not answer (a
/// balancer then sends calls elsewhere), and `SERVING` again once all do. Leaves health alone
/// once the process is stopping.
pub(crate) async fn watch_stores(
    databases: Vec<(Target, Database)>,
    kafka: Option<crm_events::Kafka>,
    services: Vec<&'static str>,
    health: HealthReporter,
    stopping: tokio::sync::watch::Receiver<bool>,
    initially: bool,
) {
    let mut shown = initially;
    let mut tick = tokio::time::interval(STORES_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut answering = true;
        for (target, db) in &databases {
            let answer = tokio::time::timeout(STORES_EVERY, db.ping()).await;
            if !matches!(answer, Ok(Ok(()))) {
                if shown {
                    let error = match answer {
                        Ok(Err(e)) => e.to_string(),
                        _ => "no answer in time".to_owned(),
                    };
                    tracing::error!(target = target.name(), %error, "store does not answer: not serving until it does");
                }
                answering = false;
            }
        }
        if let Some(kafka) = &kafka
            && let Err(e) = kafka.ping(STORES_EVERY).await
        {
            if shown {
                tracing::error!(error = %format!("{e:#}"), "Kafka does not answer: not serving until it does");
            }
            answering = false;
        }
        if *stopping.borrow() {
            return;
        }
        if answering != shown {
            shown = answering;
            let status = if answering {
                tracing::info!("every store answers again: serving");
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health.set_service_status("", status).await;
            for service in &services {
                health.set_service_status(*service, status).await;
            }
        }
    }
}

/// Keeps the health of an upstream's services (and `upstream:<context>`) in step with the
/// upstream's own: `SERVING` while any of its processes answers its health check.
pub(crate) async fn watch_upstream(
    upstream: std::sync::Arc<Upstream>,
    services: &'static [&'static str],
    health: HealthReporter,
) {
    let mut shown = None;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        // Also takes each process that does not answer SERVING out of the gateway's rotation.
        let serving = upstream.check(Duration::from_secs(1)).await;
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if shown != Some(status) {
            if shown.is_some() || !serving {
                tracing::info!(context = upstream.context(), serving, "upstream health");
            }
            shown = Some(status);
            for service in services {
                health.set_service_status(*service, status).await;
            }
            health
                .set_service_status(format!("upstream:{}", upstream.context()), status)
                .await;
        }
    }
}
