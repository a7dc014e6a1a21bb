//! The edge in a process: every context this process does not run is forwarded to its
//! upstream (`edge.upstreams.<context>`), the edge's own views (the customer overview) are
//! composed from them, and quotas are kept per tenant and caller.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_core::breaker::NamedBreaker;
use crm_core::config::Config;
use crm_core::grpc::ServiceSet;
use crm_edge::gateway::{Forward, Upstream};

use crm_events::bounded::BoundedContext;

use crate::Contexts;

/// What the edge was wired to.
#[derive(Default)]
pub(crate) struct Wired {
    /// The upstreams it forwards to, each with the services it serves (their health follows
    /// the upstream's).
    pub remote: Vec<(Arc<Upstream>, &'static [&'static str])>,
    /// The services of contexts with no upstream configured: they cannot be served.
    pub unconfigured: Vec<&'static str>,
}

/// Adds the edge to `services`: forwards to the upstream of every context not in `running`
/// (their breakers join `breakers`), reaches those in `running` on `own` (this process's
/// port), forwards API keys to the context that authenticates them when it runs elsewhere, and
/// serves the overview.
pub(crate) fn wire(
    config: &Config,
    contexts: Contexts,
    running: &[&'static BoundedContext],
    own: SocketAddr,
    services: &mut ServiceSet,
    breakers: &mut Vec<NamedBreaker>,
) -> anyhow::Result<Wired> {
    let mut wired = Wired::default();
    let mut reach: BTreeMap<&'static str, Arc<Upstream>> = BTreeMap::new();
    for context in contexts.iter() {
        if running.iter().any(|c| c.name == context.name) {
            let address = format!("http://{own}");
            let channel = tonic::transport::Endpoint::from_shared(address.clone())?
                .connect_timeout(crm_edge::gateway::CONNECT_TIMEOUT)
                .connect_lazy();
            reach.insert(
                context.name,
                Upstream::local(context.name, address, channel),
            );
            continue;
        }
        let forward = match config.edge.upstreams.get(context.name) {
            Some(address) => {
                let upstream = Upstream::connect(
                    "edge",
                    context.name,
                    format!("edge.upstreams.{}", context.name),
                    address,
                )
                .map_err(|e| anyhow::anyhow!("edge.upstreams.{}: {e}", context.name))?;
                breakers.push(upstream.breaker());
                wired.remote.push((upstream.clone(), context.services));
                reach.insert(context.name, upstream.clone());
                Forward::To(upstream)
            }
            None => {
                wired.unconfigured.extend(context.services);
                Forward::Unconfigured(context.name)
            }
        };
        for service in context.services {
            services.forward(service, forward.clone());
        }
        context.access.apply(services);
        // Its API keys are checked where it runs.
        if let Some(shape) = context.provides.api_keys {
            services.forward_api_keys(shape);
        }
    }
    // The edge's own view, composed from the customer and sales contexts, wherever they run.
    let overview = crm_edge::overview::Overview::new(
        reach.get("customer").cloned(),
        reach.get("sales").cloned(),
    );
    services.add(crm_proto::crm::edge::v1::edge_service_server::EdgeServiceServer::new(overview));
    Ok(wired)
}

/// Quotas per tenant and caller: in Redis when it is configured (replicas share them), else in
/// memory.
pub(crate) async fn rate_limit(
    config: &Config,
) -> anyhow::Result<crm_edge::ratelimit::RateLimitLayer> {
    let limiter = match &config.redis.url {
        Some(url) => crm_edge::ratelimit::Limiter::redis(&config.rate_limit, url.expose())
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {} (redis.url / REDIS_URL) for rate limits",
                    url.redacted()
                )
            })?,
        None => crm_edge::ratelimit::Limiter::memory(&config.rate_limit),
    };
    Ok(crm_edge::ratelimit::RateLimitLayer::new(limiter))
}
