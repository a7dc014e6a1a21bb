//! A context's processes as another process reaches them (microservices mode): the edge forwards
//! every call for a context it does not run to its upstream (`edge.upstreams.<context>`), after
//! its own checks (token, quota), and the services call each other through one too (sales →
//! customer and IAM at `sales.customer_endpoint` and `sales.iam_endpoint`, customer → IAM at
//! `customer.iam_endpoint`), as a tonic client over [`Balanced`]. gRPC goes as it came;
//! grpc-web and REST have become gRPC calls by then, so one forwarder serves all three.
//!
//! An upstream is one or more addresses (`http://customer-0:50051,http://customer-1:50051`),
//! used in turn, or a DNS name re-resolved every few seconds (`dns:///customer-headless:50051`,
//! for Kubernetes headless services). Each call carries the caller's metadata (authorization,
//! correlation id, `traceparent`, its deadline) unchanged. An unreachable upstream answers
//! `UNAVAILABLE` naming the context, within the connect timeout; a call that gets no answer within
//! its deadline (or [`ANSWER_TIMEOUT`] when it set none) answers `DEADLINE_EXCEEDED`. Repeated
//! failures open the upstream's circuit breaker (`<caller>.<context>`, `edge.customer`), which refuses at once until a
//! probe gets through.

use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{BreakerWatch, NamedBreaker};
use crate::{Error, ErrorKind};
use failsafe::StateMachine;
use failsafe::backoff::EqualJittered;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::futures::CircuitBreaker as _;
use http::{Request, Response};
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt as _;

mod balanced;
mod held;
mod pool;
#[cfg(test)]
mod tests;

pub use balanced::{Balanced, CHECK_EVERY};
use held::{Body, Failure, ROUTES, carries_request_id, chain, hold, never_sent, timed_out};
use pool::{Pool, Replica, resolve};

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

/// The largest request the gateway holds to send again on another process: the most a CRM
/// service reads in one message (tonic's default), and its 5-byte frame header.
const BUFFER_AT_MOST: usize = 4 * 1024 * 1024 + 5;

fn lazy(url: &str) -> Result<Channel, String> {
    Ok(Endpoint::from_shared(url.to_owned())
        .map_err(|e| format!("`{url}`: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// One context's processes, as a caller (the edge, a service) reaches them.
pub struct Upstream {
    /// Who calls (`edge`, `sales`): its breaker is `<caller>.<context>`.
    caller: &'static str,
    context: &'static str,
    /// The setting that names its addresses (`edge.upstreams.customer`), for messages.
    key: String,
    /// As configured (or this process's own port), for messages.
    address: String,
    pool: Arc<Pool>,
    breaker: Breaker,
    watch: BreakerWatch,
}

impl Upstream {
    /// The upstream of `context` at `address` (see [`Addresses::parse`]), as `caller` reaches
    /// it, configured at `key`. Nothing is dialled until the first call; a `dns:///` name is
    /// resolved now and every [`RESOLVE_EVERY`] by a task on the current runtime.
    pub fn connect(
        caller: &'static str,
        context: &'static str,
        key: impl Into<String>,
        address: &str,
    ) -> Result<Arc<Upstream>, String> {
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
            caller,
            context,
            key.into(),
            address.trim().to_owned(),
            pool,
        )))
    }

    /// An upstream that is this process (its own port), reached by the edge.
    pub fn local(context: &'static str, address: String, channel: Channel) -> Arc<Upstream> {
        Arc::new(Self::build(
            "edge",
            context,
            format!("edge.upstreams.{context}"),
            address.clone(),
            Pool::new(context, vec![Replica::new(address, channel)]),
        ))
    }

    fn build(
        caller: &'static str,
        context: &'static str,
        key: String,
        address: String,
        pool: Arc<Pool>,
    ) -> Upstream {
        let watch = BreakerWatch::default();
        let policy = failsafe::failure_policy::consecutive_failures(
            OPEN_AFTER,
            failsafe::backoff::equal_jittered(OPEN_FOR, OPEN_FOR * 2),
        );
        Upstream {
            caller,
            context,
            key,
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

    /// Its breaker, as the launcher shows it (`<caller>.<context>`).
    pub fn breaker(&self) -> NamedBreaker {
        NamedBreaker {
            name: format!("{}.{}", self.caller, self.context),
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
                "the {} service has no address yet: `{}` ({}) resolved to nothing",
                self.context, self.address, self.key
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
    /// reached its process goes again only when it reads (bound to HTTP GET) or carries a
    /// `request_id` (the service then answers it once). Either way the failed process is taken out of rotation. Only when no
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
                                unsent || route.reads || carries_request_id(&route.input, held)
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
                        "the {} service is failing ({} = {}): calls to it are held back for a few seconds; retry then",
                        self.context, self.key, self.address
                    ),
                )
                .with_reason("UPSTREAM_BREAKER_OPEN")
                .with_retry_after(OPEN_FOR),
            ),
            Err(failsafe::Error::Inner(Failure::Unreachable(e))) => refused(
                Error::unavailable(
                    format!(
                        "the {} service cannot be reached at {} ({}): check that it runs and the address is right",
                        self.context, self.address, self.key
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
    crate::client::forward_for(&parts.extensions, &mut parts.headers);
    // The upstream's span is a child of the edge's, in the caller's trace.
    if let Some(traceparent) =
        crate::telemetry::current_traceparent().and_then(|t| http::HeaderValue::from_str(&t).ok())
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
