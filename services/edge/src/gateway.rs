//! The gateway of microservices mode: the edge forwards every call for a context it does not run
//! to that context's processes (`edge.upstreams.<context>`), after its own checks (token, quota).
//! gRPC goes as it came; grpc-web and REST have become gRPC calls by then, so one forwarder
//! serves all three.
//!
//! An upstream is one or more addresses (`http://customer-0:50051,http://customer-1:50051`),
//! used in turn, or a DNS name re-resolved every few seconds (`dns:///customer-headless:50051`,
//! for Kubernetes headless services). Each call carries the caller's metadata (authorization,
//! correlation id, `traceparent`, its deadline) unchanged. An unreachable upstream answers
//! `UNAVAILABLE` naming the context, within the connect timeout; a call that gets no answer within
//! its deadline (or [`ANSWER_TIMEOUT`] when it set none) answers `DEADLINE_EXCEEDED`. Repeated
//! failures open the upstream's circuit breaker (`edge.<context>`), which refuses at once until a
//! probe gets through.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crm_core::breaker::{BreakerWatch, NamedBreaker};
use crm_core::{Error, ErrorKind};
use failsafe::StateMachine;
use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::futures::CircuitBreaker as _;
use futures::future::BoxFuture;
use http::{Request, Response};
use tonic::transport::{Channel, Endpoint};
use tower::{Service, ServiceExt as _};

/// How long dialling an upstream address may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a call that set no deadline waits for the upstream's answer to begin.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a `dns:///` upstream is resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(5);
/// Consecutive failures that open an upstream's breaker.
const OPEN_AFTER: u32 = 5;
/// How long an open breaker refuses before a probe (doubled at most, with jitter).
const OPEN_FOR: Duration = Duration::from_secs(2);

type Breaker = StateMachine<ConsecutiveFailures<EqualJittered>, BreakerWatch>;

/// Where an upstream's processes are, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// Fixed addresses, used in turn.
    Fixed(Vec<String>),
    /// A DNS name and port, resolved again every [`RESOLVE_EVERY`]; every address it gives is
    /// used in turn.
    Dns {
        /// The name.
        host: String,
        /// The port.
        port: u16,
    },
}

impl Addresses {
    /// Reads `edge.upstreams.<context>`: comma-separated `http://host:port` URLs, or one
    /// `dns:///host:port`.
    pub fn parse(value: &str) -> Result<Addresses, String> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("dns:///") {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
                format!("`{value}` names no port: write dns:///<name>:<port>, e.g. dns:///customer-headless:50051")
            })?;
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("`{port}` in `{value}` is not a port"))?;
            if host.is_empty() {
                return Err(format!("`{value}` names no host"));
            }
            return Ok(Addresses::Dns {
                host: host.to_owned(),
                port,
            });
        }
        let mut urls = Vec::new();
        for url in value.split(',').map(str::trim) {
            let uri: http::Uri = url.parse().map_err(|e| format!("`{url}`: {e}"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
                return Err(format!(
                    "`{url}` is not an address: write http://<host>:<port> (several separated by commas), or dns:///<name>:<port>"
                ));
            }
            urls.push(url.to_owned());
        }
        Ok(Addresses::Fixed(urls))
    }
}

/// Channels to one context's processes, taken in turn.
struct Pool {
    channels: RwLock<Arc<Vec<(String, Channel)>>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(channels: Vec<(String, Channel)>) -> Arc<Pool> {
        Arc::new(Pool {
            channels: RwLock::new(Arc::new(channels)),
            next: AtomicUsize::new(0),
        })
    }

    fn pick(&self) -> Option<Channel> {
        let channels = self.channels.read().expect("pool lock").clone();
        if channels.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % channels.len();
        Some(channels[i].1.clone())
    }

    /// Keeps the channels of addresses still given, dials the new ones, drops the gone.
    fn update(&self, addresses: &[SocketAddr]) {
        let current = self.channels.read().expect("pool lock").clone();
        let keys: Vec<String> = addresses.iter().map(|a| format!("http://{a}")).collect();
        if keys.len() == current.len() && keys.iter().all(|k| current.iter().any(|(c, _)| c == k)) {
            return;
        }
        let next: Vec<(String, Channel)> = keys
            .into_iter()
            .filter_map(|key| match current.iter().find(|(c, _)| *c == key) {
                Some(kept) => Some(kept.clone()),
                None => lazy(&key).ok().map(|channel| (key, channel)),
            })
            .collect();
        tracing::info!(addresses = ?next.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), "upstream addresses changed");
        *self.channels.write().expect("pool lock") = Arc::new(next);
    }
}

fn lazy(url: &str) -> Result<Channel, String> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|e| format!("`{url}`: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// One context's processes, as the edge reaches them.
pub struct Upstream {
    context: &'static str,
    /// As configured (or this process's own port), for messages.
    address: String,
    pool: Arc<Pool>,
    breaker: Breaker,
    watch: BreakerWatch,
}

impl Upstream {
    /// The upstream of `context` at `address` (see [`Addresses::parse`]). Nothing is dialled
    /// until the first call; a `dns:///` name is resolved now and every [`RESOLVE_EVERY`] by a
    /// task on the current runtime.
    pub fn connect(context: &'static str, address: &str) -> Result<Arc<Upstream>, String> {
        let (pool, dns) = match Addresses::parse(address)? {
            Addresses::Fixed(urls) => {
                let channels = urls
                    .iter()
                    .map(|url| lazy(url).map(|c| (url.clone(), c)))
                    .collect::<Result<Vec<_>, _>>()?;
                (Pool::new(channels), None)
            }
            Addresses::Dns { host, port } => (Pool::new(Vec::new()), Some((host, port))),
        };
        if let Some((host, port)) = dns {
            tokio::spawn(resolve(Arc::downgrade(&pool), context, host, port));
        }
        Ok(Arc::new(Self::build(
            context,
            address.trim().to_owned(),
            pool,
        )))
    }

    /// An upstream that is this process (its own port): no breaker counts against it.
    pub fn local(context: &'static str, address: String, channel: Channel) -> Arc<Upstream> {
        Arc::new(Self::build(
            context,
            address.clone(),
            Pool::new(vec![(address, channel)]),
        ))
    }

    fn build(context: &'static str, address: String, pool: Arc<Pool>) -> Upstream {
        let watch = BreakerWatch::default();
        let policy = failsafe::failure_policy::consecutive_failures(
            OPEN_AFTER,
            failsafe::backoff::equal_jittered(OPEN_FOR, OPEN_FOR * 2),
        );
        Upstream {
            context,
            address,
            pool,
            breaker: failsafe::Config::new()
                .failure_policy(policy)
                .instrument(watch.clone())
                .build(),
            watch,
        }
    }

    /// Its context's name.
    pub fn context(&self) -> &'static str {
        self.context
    }

    /// Its breaker, as the launcher shows it (`edge.<context>`).
    pub fn breaker(&self) -> NamedBreaker {
        NamedBreaker {
            name: format!("edge.{}", self.context),
            watch: self.watch.clone(),
        }
    }

    /// A channel to one of its processes (the next in turn), for a client of the edge's own.
    pub fn channel(&self) -> Result<Channel, tonic::Status> {
        self.pool
            .pick()
            .ok_or_else(|| tonic::Status::from(self.no_address()))
    }

    /// A channel to each of its processes (for health checks).
    pub fn channels(&self) -> Vec<Channel> {
        let channels = self.pool.channels.read().expect("pool lock").clone();
        channels.iter().map(|(_, c)| c.clone()).collect()
    }

    fn no_address(&self) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "the {} service has no address yet: `{}` (edge.upstreams.{}) resolved to nothing",
                self.context, self.address, self.context
            ),
        )
        .with_reason("UPSTREAM_UNRESOLVED")
        .with_metadata("context", self.context)
        .with_retry_after(RESOLVE_EVERY)
    }

    /// Sends `request` to one of its processes and returns the answer, or the error that says
    /// which context could not answer and why.
    pub async fn forward<B>(&self, request: Request<B>) -> Response<tonic::body::Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let deadline = grpc_timeout(request.headers()).unwrap_or(ANSWER_TIMEOUT);
        let refused = |error: Error| {
            tonic::Status::from(error.with_metadata("context", self.context))
                .into_http::<tonic::body::Body>()
        };
        let Some(channel) = self.pool.pick() else {
            return refused(self.no_address());
        };
        let request = outgoing(request);
        let call = async move {
            match tokio::time::timeout(deadline, channel.oneshot(request)).await {
                Ok(Ok(response)) => Ok(response),
                // The channel keeps `grpc-timeout` itself.
                Ok(Err(e)) if timed_out(&e) => Err(Failure::NoAnswer(deadline)),
                Ok(Err(e)) => Err(Failure::Unreachable(e)),
                Err(_) => Err(Failure::NoAnswer(deadline)),
            }
        };
        match self.breaker.call(call).await {
            Ok(response) => response,
            Err(failsafe::Error::Rejected) => refused(
                Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the {} service is failing (edge.upstreams.{} = {}): calls to it are held back for a few seconds; retry then",
                        self.context, self.context, self.address
                    ),
                )
                .with_reason("UPSTREAM_BREAKER_OPEN")
                .with_retry_after(OPEN_FOR),
            ),
            Err(failsafe::Error::Inner(Failure::Unreachable(e))) => refused(
                Error::unavailable(
                    format!(
                        "the {} service cannot be reached at {} (edge.upstreams.{}): check that it runs and the address is right",
                        self.context, self.address, self.context
                    ),
                    anyhow::anyhow!(chain(&e)),
                )
                .with_reason("UPSTREAM_UNREACHABLE"),
            ),
            Err(failsafe::Error::Inner(Failure::NoAnswer(after))) => tonic::Status::new(
                tonic::Code::DeadlineExceeded,
                format!(
                    "the {} service at {} did not answer within {} ms",
                    self.context,
                    self.address,
                    after.as_millis()
                ),
            )
            .into_http(),
        }
    }
}

/// Why a forwarded call failed.
enum Failure {
    Unreachable(tonic::transport::Error),
    NoAnswer(Duration),
}

/// Whether `e` is the channel saying the call's deadline passed.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<tonic::TimeoutExpired>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An error with its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves `host` every [`RESOLVE_EVERY`] while its pool is in use.
async fn resolve(pool: Weak<Pool>, context: &'static str, host: String, port: u16) {
    let mut tick = tokio::time::interval(RESOLVE_EVERY);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(found) => {
                let mut addresses: Vec<SocketAddr> = found.collect();
                addresses.sort();
                addresses.dedup();
                pool.update(&addresses);
            }
            // Keep what was known: a DNS hiccup must not empty the pool.
            Err(e) => {
                tracing::warn!(context, %host, error = %e, "cannot resolve the upstream; keeping its last addresses")
            }
        }
    }
}

/// The request as it goes upstream: the same method, path, metadata and body, without the
/// headers of the hop it came in on.
fn outgoing<B>(request: Request<B>) -> Request<tonic::body::Body>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let (mut parts, body) = request.into_parts();
    for hop in [
        http::header::HOST,
        http::header::CONNECTION,
        http::header::CONTENT_LENGTH,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::header::HeaderName::from_static("keep-alive"),
        http::header::HeaderName::from_static("proxy-connection"),
    ] {
        parts.headers.remove(hop);
    }
    parts.version = http::Version::HTTP_2;
    // Whom the edge forwards for, as it resolved it: believed by an upstream that trusts the
    // edge (`trusted_proxies`).
    crm_core::client::forward_for(&parts.extensions, &mut parts.headers);
    // The upstream's span is a child of the edge's, in the caller's trace.
    if let Some(traceparent) = crm_core::telemetry::current_traceparent()
        .and_then(|t| http::HeaderValue::from_str(&t).ok())
    {
        parts.headers.insert("traceparent", traceparent);
    }
    Request::from_parts(parts, tonic::body::Body::new(body))
}

/// The call's deadline from its `grpc-timeout` header (`<digits><H|M|S|m|u|n>`).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The service that forwards a context's calls: to its upstream, or, where none is configured,
/// an `UNAVAILABLE` saying which key to set.
#[derive(Clone)]
pub enum Forward {
    /// To these processes.
    To(Arc<Upstream>),
    /// The context runs nowhere this edge knows of.
    Unconfigured(&'static str),
}

impl<B> Service<Request<B>> for Forward
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
        match self {
            Forward::To(upstream) => {
                let upstream = upstream.clone();
                Box::pin(async move { Ok(upstream.forward(request).await) })
            }
            Forward::Unconfigured(context) => {
                let error = Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the {context} service does not run in this process and no upstream is configured for it: set edge.upstreams.{context} (e.g. http://{context}:50051)"
                    ),
                )
                .with_reason("NO_UPSTREAM")
                .with_metadata("context", *context);
                Box::pin(std::future::ready(Ok(
                    tonic::Status::from(error).into_http()
                )))
            }
        }
    }
}

/// The upstreams of an edge, by context name.
pub type Upstreams = BTreeMap<&'static str, Arc<Upstream>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_addresses_are_read_or_refused_with_the_form_to_write() {
        assert_eq!(
            Addresses::parse("http://a:1, http://b:2").unwrap(),
            Addresses::Fixed(vec!["http://a:1".into(), "http://b:2".into()])
        );
        assert_eq!(
            Addresses::parse("dns:///customer-headless:50051").unwrap(),
            Addresses::Dns {
                host: "customer-headless".into(),
                port: 50051
            }
        );
        for bad in [
            "customer:50051",
            "dns:///customer",
            "dns:///:1",
            "http://a:1,",
            "ftp://a:1",
        ] {
            let err = Addresses::parse(bad).unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
    }

    #[test]
    fn deadlines_are_read_from_grpc_timeout() {
        let mut headers = http::HeaderMap::new();
        for (value, expected) in [
            ("5S", Some(Duration::from_secs(5))),
            ("250m", Some(Duration::from_millis(250))),
            ("2M", Some(Duration::from_secs(120))),
            ("7x", None),
            ("S", None),
        ] {
            headers.insert("grpc-timeout", value.parse().unwrap());
            assert_eq!(grpc_timeout(&headers), expected, "{value}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_unavailable_naming_its_context_then_its_breaker_opens() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let upstream = Upstream::connect("customer", &format!("http://127.0.0.1:{port}")).unwrap();
        let call = || {
            Request::post("/crm.customer.v1.CustomerService/GetCustomer")
                .header("content-type", "application/grpc")
                .body(tonic::body::Body::empty())
                .unwrap()
        };
        for _ in 0..OPEN_AFTER {
            let response = upstream.forward(call()).await;
            let status = tonic::Status::from_header_map(response.headers()).unwrap();
            assert_eq!(status.code(), tonic::Code::Unavailable);
            assert!(
                status
                    .message()
                    .contains("customer service cannot be reached")
                    && status.message().contains("edge.upstreams.customer"),
                "{}",
                status.message()
            );
        }
        assert_eq!(
            upstream.breaker().watch.state(),
            crm_core::breaker::BreakerState::Open
        );
        let response = upstream.forward(call()).await;
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(
            status.message().contains("held back"),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn an_upstream_that_never_answers_ends_at_the_callers_deadline() {
        // Accepts connections and says nothing.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let upstream = Upstream::connect("sales", &format!("http://{addr}")).unwrap();
        let request = Request::post("/crm.sales.v1.LeadService/ListLeads")
            .header("content-type", "application/grpc")
            .header("grpc-timeout", "300m")
            .body(tonic::body::Body::empty())
            .unwrap();
        let response = upstream.forward(request).await;
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
        assert!(
            status.message().contains("sales service") && status.message().contains("300 ms"),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn a_context_without_upstream_says_which_key_to_set() {
        let response = Forward::Unconfigured("sales")
            .oneshot(
                Request::post("/crm.sales.v1.LeadService/ListLeads")
                    .body(tonic::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("edge.upstreams.sales"));
    }
}
