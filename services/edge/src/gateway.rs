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

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crm_core::breaker::{BreakerWatch, NamedBreaker};
use crm_core::{Error, ErrorKind};
use failsafe::StateMachine;
use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::futures::CircuitBreaker as _;
use futures::future::BoxFuture;
use http::{Request, Response};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value};
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

/// How long a process that refused a connection (or failed its health check) first stays out
/// of rotation; doubled on each ejection in a row, up to [`EJECT_AT_MOST`].
const EJECT_FOR: Duration = Duration::from_secs(1);
/// The longest a process stays out of rotation before a call probes it again.
const EJECT_AT_MOST: Duration = Duration::from_secs(16);
/// The largest request the gateway holds to send again on another process: the most a CRM
/// service reads in one message (tonic's default), and its 5-byte frame header.
const BUFFER_AT_MOST: usize = 4 * 1024 * 1024 + 5;

/// One process of a context, with its standing in rotation.
struct Replica {
    url: String,
    channel: Channel,
    /// Until when it is out of rotation, in ms after the pool's epoch (0: in rotation).
    ejected_until: AtomicU64,
    /// Ejections in a row, which double the time out.
    ejections: AtomicU32,
}

impl Replica {
    fn new(url: String, channel: Channel) -> Arc<Replica> {
        Arc::new(Replica {
            url,
            channel,
            ejected_until: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
        })
    }
}

/// Channels to one context's processes, taken in turn; a process that refuses connections or
/// fails its health check is left out of the turn (ejected) until it is probed back in.
struct Pool {
    context: &'static str,
    epoch: Instant,
    replicas: RwLock<Arc<Vec<Arc<Replica>>>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(context: &'static str, replicas: Vec<Arc<Replica>>) -> Arc<Pool> {
        Arc::new(Pool {
            context,
            epoch: Instant::now(),
            replicas: RwLock::new(Arc::new(replicas)),
            next: AtomicUsize::new(0),
        })
    }

    fn replicas(&self) -> Arc<Vec<Arc<Replica>>> {
        self.replicas.read().expect("pool lock").clone()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next process in turn that is in rotation and not in `tried`; when every untried one
    /// is ejected, the one whose time out ends first (a call then probes it: better than
    /// refusing while some process may answer).
    fn pick(&self, tried: &[Arc<Replica>]) -> Option<Arc<Replica>> {
        let replicas = self.replicas();
        let n = replicas.len();
        if n == 0 {
            return None;
        }
        let now = self.now_ms();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let untried = (0..n)
            .map(|k| &replicas[(start + k) % n])
            .filter(|r| !tried.iter().any(|t| Arc::ptr_eq(t, r)));
        let mut fallback: Option<&Arc<Replica>> = None;
        for replica in untried {
            let until = replica.ejected_until.load(Ordering::Relaxed);
            if until <= now {
                return Some(replica.clone());
            }
            if fallback.is_none_or(|f| until < f.ejected_until.load(Ordering::Relaxed)) {
                fallback = Some(replica);
            }
        }
        fallback.cloned()
    }

    /// Takes `replica` out of rotation: for [`EJECT_FOR`], doubled for each ejection in a row.
    fn eject(&self, replica: &Replica, why: &str) {
        let row = replica.ejections.fetch_add(1, Ordering::Relaxed);
        let out = EJECT_FOR.saturating_mul(1 << row.min(8)).min(EJECT_AT_MOST);
        let until = self.now_ms() + u64::try_from(out.as_millis()).unwrap_or(u64::MAX);
        let was = replica.ejected_until.swap(until, Ordering::Relaxed);
        if was <= self.now_ms() && row == 0 {
            tracing::warn!(context = self.context, replica = %replica.url, why, "upstream process out of rotation");
        }
    }

    /// Puts `replica` back in rotation (it answered).
    fn readmit(&self, replica: &Replica) {
        if replica.ejections.swap(0, Ordering::Relaxed) > 0 {
            replica.ejected_until.store(0, Ordering::Relaxed);
            tracing::info!(context = self.context, replica = %replica.url, "upstream process back in rotation");
        }
    }

    /// Keeps the processes of addresses still given, dials the new ones, drops the gone.
    fn update(&self, addresses: &[SocketAddr]) {
        let current = self.replicas();
        let keys: Vec<String> = addresses.iter().map(|a| format!("http://{a}")).collect();
        if keys.len() == current.len() && keys.iter().all(|k| current.iter().any(|r| r.url == *k)) {
            return;
        }
        let next: Vec<Arc<Replica>> = keys
            .into_iter()
            .filter_map(|key| match current.iter().find(|r| r.url == key) {
                Some(kept) => Some(kept.clone()),
                None => lazy(&key).ok().map(|channel| Replica::new(key, channel)),
            })
            .collect();
        tracing::info!(addresses = ?next.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(), "upstream addresses changed");
        *self.replicas.write().expect("pool lock") = Arc::new(next);
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
                let replicas = urls
                    .iter()
                    .map(|url| lazy(url).map(|c| Replica::new(url.clone(), c)))
                    .collect::<Result<Vec<_>, _>>()?;
                (Pool::new(context, replicas), None)
            }
            Addresses::Dns { host, port } => (Pool::new(context, Vec::new()), Some((host, port))),
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
            Pool::new(context, vec![Replica::new(address, channel)]),
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

    /// Asks each of its processes for its health (`grpc.health.v1.Health/Check` of the
    /// process, within `within`): one that does not answer `SERVING` is taken out of rotation,
    /// one that does is put back. Whether any answered `SERVING`.
    pub async fn check(&self, within: Duration) -> bool {
        use crm_proto::grpc::health::v1::health_check_response::ServingStatus;
        use crm_proto::grpc::health::v1::{HealthCheckRequest, health_client::HealthClient};
        let replicas = self.pool.replicas();
        let checks = replicas.iter().map(|replica| async move {
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            request.set_timeout(within);
            let answer = tokio::time::timeout(
                within + within / 2,
                HealthClient::new(replica.channel.clone()).check(request),
            )
            .await;
            let serving =
                matches!(&answer, Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32);
            if serving {
                self.pool.readmit(replica);
            } else {
                let why = match answer {
                    Ok(Ok(_)) => "its health check answers NOT_SERVING".to_owned(),
                    Ok(Err(status)) => format!("its health check failed: {}", status.message()),
                    Err(_) => "its health check did not answer in time".to_owned(),
                };
                self.pool.eject(replica, &why);
            }
            serving
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .any(|serving| serving)
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

    /// Sends `request` to one of its processes in rotation and returns the answer, or the
    /// error that says which context could not answer and why.
    ///
    /// A call whose request is one message is held, so that when a process fails it before
    /// the call reached it (the connection refused, the stream refused or the connection gone
    /// before a byte was sent) it goes to the next process instead; a call that may have
    /// reached its process goes again only when it carries a `request_id` (the service then
    /// answers it once). Either way the failed process is taken out of rotation. Only when no
    /// process answers does the failure count against the context's breaker.
    pub async fn forward<B>(&self, request: Request<B>) -> Response<tonic::body::Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let deadline = grpc_timeout(request.headers()).unwrap_or(ANSWER_TIMEOUT);
        let until = tokio::time::Instant::now() + deadline;
        let refused = |error: Error| {
            tonic::Status::from(error.with_metadata("context", self.context))
                .into_http::<tonic::body::Body>()
        };
        if self.pool.replicas().is_empty() {
            return refused(self.no_address());
        }
        let route = ROUTES.get(request.uri().path());
        let (head, body) = outgoing(request).into_parts();
        let mut body = match route {
            Some(route) if !route.client_streaming => match hold(body).await {
                Ok(held) => Body::Held(held),
                Err(status) => return status.into_http(),
            },
            _ => Body::Streamed(Some(body)),
        };
        let call = async {
            let mut tried: Vec<Arc<Replica>> = Vec::new();
            loop {
                let Some(replica) = self.pool.pick(&tried) else {
                    unreachable!("a pool with processes always offers one not yet tried first")
                };
                let Some(outgoing) = body.next(&head) else {
                    unreachable!("a streamed request is sent once")
                };
                let sent =
                    tokio::time::timeout_at(until, replica.channel.clone().oneshot(outgoing));
                match sent.await {
                    Ok(Ok(response)) => {
                        self.pool.readmit(&replica);
                        return Ok(response);
                    }
                    // The channel keeps `grpc-timeout` itself.
                    Ok(Err(e)) if timed_out(&e) => return Err(Failure::NoAnswer(deadline)),
                    Ok(Err(e)) => {
                        let unsent = never_sent(&e);
                        self.pool.eject(&replica, &chain(&e));
                        let again = match (&body, route) {
                            (Body::Held(held), Some(route)) => {
                                unsent || carries_request_id(&route.input, held)
                            }
                            _ => false,
                        };
                        tried.push(replica);
                        let others = self.pool.replicas().len() > tried.len();
                        if !(again && others) {
                            return Err(Failure::Unreachable(e));
                        }
                        tracing::info!(context = self.context, unsent, error = %chain(&e), "sending the call to another process");
                    }
                    Err(_) => return Err(Failure::NoAnswer(deadline)),
                }
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

/// What the gateway knows of a method from the contracts.
struct Route {
    /// Whether its request is a stream of messages (never held: it is sent once, as it comes).
    client_streaming: bool,
    /// Its request's message.
    input: MessageDescriptor,
}

/// Every method of the contracts, by its HTTP/2 path (`/crm.customer.v1.CustomerService/GetCustomer`).
static ROUTES: LazyLock<HashMap<String, Route>> = LazyLock::new(|| {
    let pool = DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET)
        .expect("the contracts' descriptor set decodes");
    pool.services()
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .map(|method| {
            let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
            let route = Route {
                client_streaming: method.is_client_streaming(),
                input: method.input(),
            };
            (path, route)
        })
        .collect()
});

/// A request's body on its way: held whole (sent again as needed) or streamed once.
enum Body {
    Held(bytes::Bytes),
    Streamed(Option<tonic::body::Body>),
}

impl Body {
    /// The request to send next, with `head`; `None` once a streamed body has gone.
    fn next(&mut self, head: &http::request::Parts) -> Option<Request<tonic::body::Body>> {
        let body = match self {
            Body::Held(held) => tonic::body::Body::new(http_body_util::Full::new(held.clone())),
            Body::Streamed(body) => body.take()?,
        };
        let mut request = Request::new(body);
        *request.method_mut() = head.method.clone();
        *request.uri_mut() = head.uri.clone();
        *request.version_mut() = head.version;
        *request.headers_mut() = head.headers.clone();
        Some(request)
    }
}

/// The whole request, read before it is sent: refused as the service would refuse it when it
/// is larger than a service reads.
async fn hold(body: tonic::body::Body) -> Result<bytes::Bytes, tonic::Status> {
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, BUFFER_AT_MOST)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(tonic::Status::resource_exhausted(format!(
                "the request is larger than {} bytes, the most a CRM service reads in one message",
                BUFFER_AT_MOST - 5
            )))
        }
        Err(e) => Err(tonic::Status::cancelled(format!(
            "the request ended before it was whole: {e}"
        ))),
    }
}

/// Whether `held` (one gRPC message, uncompressed) sets the `request_id` its message has:
/// such a call is answered once by the service however often it is sent.
fn carries_request_id(input: &MessageDescriptor, held: &[u8]) -> bool {
    let Some(field) = input.get_field_by_name("request_id") else {
        return false;
    };
    let [0, _, _, _, _, message @ ..] = held else {
        return false;
    };
    DynamicMessage::decode(input.clone(), message)
        .is_ok_and(|m| matches!(m.get_field(&field).as_ref(), Value::String(id) if !id.is_empty()))
}

/// Whether `e` says the call never reached the process: the connection could not be made, the
/// stream was refused (`REFUSED_STREAM`, or above a `GOAWAY`'s last stream), or the request was
/// dropped before it was written.
fn never_sent(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as Io;
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
                    | Io::AddrNotAvailable
            )
        {
            return true;
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>()
            && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || h2.is_go_away() && h2.is_remote())
        {
            return true;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return true;
        }
        cause = e.source();
    }
    false
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

    /// A process of the customer service that answers every call OK (trailers only), saying
    /// it served it, and how many it served.
    #[derive(Clone)]
    struct Answering(Arc<AtomicUsize>);

    impl tonic::server::NamedService for Answering {
        const NAME: &'static str = "crm.customer.v1.CustomerService";
    }

    impl Service<Request<tonic::body::Body>> for Answering {
        type Response = Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<tonic::body::Body>) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            let response = Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "0")
                .body(tonic::body::Body::empty())
                .unwrap();
            std::future::ready(Ok(response))
        }
    }

    /// A process of the health service whose answer the test sets.
    #[derive(Clone)]
    struct Healthy(Arc<std::sync::atomic::AtomicBool>);

    #[tonic::async_trait]
    impl crm_proto::grpc::health::v1::health_server::Health for Healthy {
        async fn check(
            &self,
            _: tonic::Request<crm_proto::grpc::health::v1::HealthCheckRequest>,
        ) -> Result<tonic::Response<crm_proto::grpc::health::v1::HealthCheckResponse>, tonic::Status>
        {
            use crm_proto::grpc::health::v1::health_check_response::ServingStatus;
            let status = if self.0.load(Ordering::SeqCst) {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            Ok(tonic::Response::new(
                crm_proto::grpc::health::v1::HealthCheckResponse {
                    status: status as i32,
                },
            ))
        }

        async fn list(
            &self,
            _: tonic::Request<crm_proto::grpc::health::v1::HealthListRequest>,
        ) -> Result<tonic::Response<crm_proto::grpc::health::v1::HealthListResponse>, tonic::Status>
        {
            Err(tonic::Status::unimplemented("not in this test"))
        }

        type WatchStream = futures::stream::Empty<
            Result<crm_proto::grpc::health::v1::HealthCheckResponse, tonic::Status>,
        >;

        async fn watch(
            &self,
            _: tonic::Request<crm_proto::grpc::health::v1::HealthCheckRequest>,
        ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
            Err(tonic::Status::unimplemented("not in this test"))
        }
    }

    /// Starts a process answering every customer call and its health check; its address, the
    /// calls it served and its health switch.
    async fn process() -> (
        SocketAddr,
        Arc<AtomicUsize>,
        Arc<std::sync::atomic::AtomicBool>,
    ) {
        let incoming =
            tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = incoming.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let serving = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let router = tonic::transport::Server::builder()
            .add_service(Answering(served.clone()))
            .add_service(
                crm_proto::grpc::health::v1::health_server::HealthServer::new(Healthy(
                    serving.clone(),
                )),
            );
        tokio::spawn(router.serve_with_incoming(incoming));
        (addr, served, serving)
    }

    /// A port nothing listens on: bound, then closed.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A process that takes whole calls and then drops its connection without answering: a
    /// call sent to it may have been carried out.
    async fn dropping() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt as _;
                    let mut buf = vec![0; 64 * 1024];
                    // The preface, the settings, the headers and the message.
                    let _ = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf))
                        .await;
                    let _ = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf))
                        .await;
                    drop(socket);
                });
            }
        });
        addr
    }

    /// A gRPC request of `path` carrying `message`, framed.
    fn call_of(path: &str, message: &impl prost::Message) -> Request<tonic::body::Body> {
        let encoded = message.encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(&encoded);
        Request::post(path)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("grpc-timeout", "5S")
            .body(tonic::body::Body::new(http_body_util::Full::new(
                bytes::Bytes::from(framed),
            )))
            .unwrap()
    }

    fn status_of(response: &Response<tonic::body::Body>) -> tonic::Code {
        tonic::Status::from_header_map(response.headers()).map_or(tonic::Code::Ok, |s| s.code())
    }

    #[tokio::test]
    async fn a_process_that_refuses_connections_leaves_the_rotation_and_no_call_fails() {
        let (live, served, _) = process().await;
        let upstream = Upstream::connect(
            "customer",
            &format!("http://127.0.0.1:{},http://{live}", closed_port()),
        )
        .unwrap();
        let get = crm_proto::crm::customer::v1::GetCustomerRequest { id: "c-1".into() };
        for i in 0..20 {
            let response = upstream
                .forward(call_of(
                    "/crm.customer.v1.CustomerService/GetCustomer",
                    &get,
                ))
                .await;
            assert_eq!(status_of(&response), tonic::Code::Ok, "call {i}");
        }
        assert_eq!(
            served.load(Ordering::SeqCst),
            20,
            "every call reached the live process"
        );
        let down = &upstream.pool.replicas()[0];
        assert!(
            down.ejected_until.load(Ordering::SeqCst) > upstream.pool.now_ms(),
            "the refusing process is out of rotation"
        );
        assert_eq!(
            upstream.breaker().watch.state(),
            crm_core::breaker::BreakerState::Closed,
            "a context with a process that answers keeps its breaker closed"
        );
    }

    #[tokio::test]
    async fn a_call_that_may_have_reached_a_process_goes_again_only_with_a_request_id() {
        use crm_proto::crm::customer::v1::CreateCustomerRequest;
        let (live, served, _) = process().await;
        let dropping = dropping().await;
        let create = |request_id: &str| {
            call_of(
                "/crm.customer.v1.CustomerService/CreateCustomer",
                &CreateCustomerRequest {
                    request_id: request_id.into(),
                    ..Default::default()
                },
            )
        };
        // A fresh upstream sends its first call to its first process: the one that drops it.
        let upstream =
            Upstream::connect("customer", &format!("http://{dropping},http://{live}")).unwrap();
        let response = upstream.forward(create("")).await;
        assert_eq!(status_of(&response), tonic::Code::Unavailable);
        assert_eq!(
            served.load(Ordering::SeqCst),
            0,
            "a create without request_id is not sent twice"
        );
        let upstream =
            Upstream::connect("customer", &format!("http://{dropping},http://{live}")).unwrap();
        let response = upstream.forward(create("r-1")).await;
        assert_eq!(status_of(&response), tonic::Code::Ok);
        assert_eq!(
            served.load(Ordering::SeqCst),
            1,
            "a create with request_id goes to the next process"
        );
    }

    #[tokio::test]
    async fn a_process_failing_its_health_check_leaves_the_rotation_until_it_passes() {
        let (one, served_one, serving_one) = process().await;
        let (two, served_two, _) = process().await;
        let upstream =
            Upstream::connect("customer", &format!("http://{one},http://{two}")).unwrap();
        let get = crm_proto::crm::customer::v1::GetCustomerRequest { id: "c-1".into() };
        serving_one.store(false, Ordering::SeqCst);
        assert!(
            upstream.check(Duration::from_secs(1)).await,
            "one still serves"
        );
        for _ in 0..10 {
            let response = upstream
                .forward(call_of(
                    "/crm.customer.v1.CustomerService/GetCustomer",
                    &get,
                ))
                .await;
            assert_eq!(status_of(&response), tonic::Code::Ok);
        }
        assert_eq!(
            served_one.load(Ordering::SeqCst),
            0,
            "none went to the process not serving"
        );
        assert_eq!(served_two.load(Ordering::SeqCst), 10);
        serving_one.store(true, Ordering::SeqCst);
        assert!(upstream.check(Duration::from_secs(1)).await);
        for _ in 0..10 {
            upstream
                .forward(call_of(
                    "/crm.customer.v1.CustomerService/GetCustomer",
                    &get,
                ))
                .await;
        }
        assert_eq!(
            served_one.load(Ordering::SeqCst),
            5,
            "back in rotation, it takes its turn"
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
