//! An upstream as the channel of a service's tonic client, its processes' health checked on
//! their own.

use std::convert::Infallible;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Request, Response};
use tower::Service;

use super::Upstream;

/// An upstream as a tower service: the channel of a tonic client
/// (`CustomerServiceClient::new(Balanced::new(upstream))`) whose calls go to the upstream's
/// processes in turn, around the ones that fail. A failure is an answer: `UNAVAILABLE` or
/// `DEADLINE_EXCEEDED` naming the context and the setting that names its addresses.
#[derive(Clone)]
pub struct Balanced(Arc<Upstream>);

impl Balanced {
    /// Calls go to `upstream`.
    pub fn new(upstream: Arc<Upstream>) -> Balanced {
        Balanced(upstream)
    }

    /// The upstream at `address` (comma-separated URLs, or `dns:///name:port`), its processes'
    /// health checked every [`CHECK_EVERY`] while it is in use.
    pub fn connect(
        caller: &'static str,
        context: &'static str,
        key: &str,
        address: &str,
    ) -> anyhow::Result<Balanced> {
        let upstream = Upstream::connect(caller, context, key, address)
            .map_err(|e| anyhow::anyhow!("`{key}`: {e}"))?;
        tokio::spawn(keep_checked(Arc::downgrade(&upstream)));
        Ok(Balanced(upstream))
    }

    /// Its upstream.
    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.0
    }
}

impl<B> Service<Request<B>> for Balanced
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let upstream = self.0.clone();
        Box::pin(async move { Ok(upstream.forward(request).await) })
    }
}

/// How often a service's upstream has its processes' health checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Checks the health of `upstream`'s processes every [`CHECK_EVERY`] while it is in use, so a
/// process that stopped answering leaves the rotation before a call finds out.
async fn keep_checked(upstream: Weak<Upstream>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(upstream) = upstream.upgrade() else {
            return;
        };
        upstream.check(Duration::from_secs(1)).await;
    }
}
