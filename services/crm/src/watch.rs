//! Health that follows what a process depends on: one loop ([`Watch::task`]) keeps a set of
//! health entries in step with a check, and the checks are its circuit breakers, its stores and
//! the bus, and the upstreams the edge forwards to.

use std::sync::Arc;
use std::time::Duration;

use crm_core::breaker::{BreakerState, NamedBreaker};
use crm_core::supervise::Task;
use crm_edge::gateway::Upstream;
use futures::future::BoxFuture;
use tonic_health::ServingStatus;

use crate::health::Statuses as HealthReporter;

/// What a check found: serving, or not and why.
pub(crate) type Verdict = Result<(), String>;

/// A check of something the process depends on, with the health entries that follow it.
pub(crate) struct Watch {
    /// What it watches, for the logs and the task's name (`stores`, `breaker sales.customer`).
    what: String,
    /// How often it checks.
    every: Duration,
    /// The health entries it sets.
    entries: Vec<String>,
    /// What health shows before its first check, when the launcher set it.
    initially: Option<ServingStatus>,
    check: Arc<dyn Fn() -> BoxFuture<'static, Verdict> + Send + Sync>,
}

impl Watch {
    /// The loop, as a supervised task: every `every`, runs the check and, when its verdict
    /// changed, sets every entry and logs why. It leaves health alone once the process is
    /// stopping (NOT_SERVING then stays).
    pub(crate) fn task(
        self,
        health: HealthReporter,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Task {
        let watch = Arc::new(self);
        Task::new(format!("watch {}", watch.what), move || {
            keep_in_step(watch.clone(), health.clone(), stopping.clone())
        })
    }
}

async fn keep_in_step(
    watch: Arc<Watch>,
    health: HealthReporter,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut shown = watch.initially;
    let mut tick = tokio::time::interval(watch.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let verdict = (watch.check)().await;
        if *stopping.borrow() {
            continue;
        }
        let status = match &verdict {
            Ok(()) => ServingStatus::Serving,
            Err(_) => ServingStatus::NotServing,
        };
        if shown == Some(status) {
            continue;
        }
        match verdict {
            Err(why) => tracing::error!(watch = %watch.what, %why, "not serving until it answers"),
            Ok(()) if shown.is_some() => tracing::info!(watch = %watch.what, "serving again"),
            Ok(()) => {}
        }
        shown = Some(status);
        for entry in &watch.entries {
            health.set_service_status(entry.as_str(), status).await;
        }
    }
}

/// How a breaker's state shows in health: open is `NOT_SERVING` (calls through it are refused
/// without trying); closed and half-open (probing) are `SERVING`.
pub(crate) fn breaker_health(state: BreakerState) -> ServingStatus {
    match state {
        BreakerState::Open => ServingStatus::NotServing,
        _ => ServingStatus::Serving,
    }
}

/// `breaker:<name>` follows the breaker (checked every 250 ms); the process serves regardless.
pub(crate) fn breaker(breaker: NamedBreaker) -> Watch {
    Watch {
        what: format!("breaker {}", breaker.name),
        every: Duration::from_millis(250),
        entries: vec![breaker.health_name()],
        initially: Some(breaker_health(breaker.watch.state())),
        check: Arc::new(move || {
            let verdict = match breaker.watch.state() {
                BreakerState::Open => Err("the circuit is open".to_owned()),
                _ => Ok(()),
            };
            Box::pin(std::future::ready(verdict))
        }),
    }
}

/// How often the stores are asked whether they answer (readiness).
const STORES_EVERY: Duration = Duration::from_secs(2);

/// Readiness follows the stores and the bus: the process (`""`) and its own `services` are
/// `NOT_SERVING` while any store (or Kafka, when the events go there) does not answer (a balancer
/// then sends calls elsewhere), and `SERVING` again once all do.
pub(crate) fn stores(
    databases: Vec<crate::backing::Store>,
    kafka: Option<crm_events::Kafka>,
    services: Vec<&'static str>,
    initially: ServingStatus,
) -> Watch {
    let databases = Arc::new(databases);
    Watch {
        what: "stores".to_owned(),
        every: STORES_EVERY,
        entries: std::iter::once("")
            .chain(services)
            .map(str::to_owned)
            .collect(),
        initially: Some(initially),
        check: Arc::new(move || {
            let databases = databases.clone();
            let kafka = kafka.clone();
            Box::pin(async move {
                let mut silent = Vec::new();
                for (target, db) in databases.iter() {
                    match tokio::time::timeout(STORES_EVERY, db.ping()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => silent.push(format!("the {} store: {e}", target.name)),
                        Err(_) => {
                            silent.push(format!("the {} store: no answer in time", target.name))
                        }
                    }
                }
                if let Some(kafka) = &kafka
                    && let Err(e) = kafka.ping(STORES_EVERY).await
                {
                    silent.push(format!("Kafka: {e:#}"));
                }
                if silent.is_empty() {
                    Ok(())
                } else {
                    Err(format!("does not answer: {}", silent.join("; ")))
                }
            })
        }),
    }
}

/// An upstream's services (and `upstream:<context>`) follow the upstream's own health:
/// `SERVING` while any of its processes answers its health check (every 2 s). The check also
/// takes each process that does not answer `SERVING` out of the gateway's rotation.
pub(crate) fn upstream(upstream: Arc<Upstream>, services: &'static [&'static str]) -> Watch {
    Watch {
        what: format!("upstream {}", upstream.context()),
        every: Duration::from_secs(2),
        entries: services
            .iter()
            .map(|s| (*s).to_owned())
            .chain([format!("upstream:{}", upstream.context())])
            .collect(),
        initially: None,
        check: Arc::new(move || {
            let upstream = upstream.clone();
            Box::pin(async move {
                if upstream.check(Duration::from_secs(1)).await {
                    Ok(())
                } else {
                    Err("no process of it answers SERVING".to_owned())
                }
            })
        }),
    }
}
