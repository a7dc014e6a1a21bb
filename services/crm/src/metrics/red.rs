//! RED metrics of every call: how many, by status code, and how long until the answer began,
//! counted after the grpc-web and REST layers so all three protocols are counted by the gRPC
//! method they reach.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crm_core::context::Protocol;
use futures::future::BoxFuture;
use http::{Request, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    service: String,
    method: String,
    protocol: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Timing {
    service: String,
    method: String,
    protocol: &'static str,
}

/// Latency buckets, in seconds: half a millisecond to ten seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The call counters and latency histograms, shared by every clone of [`RedLayer`].
#[derive(Clone)]
pub(super) struct Red {
    calls: Family<Call, Counter>,
    latency: Family<Timing, Histogram>,
    /// The services served (or forwarded): other paths are counted as `unknown`, so a scanner
    /// cannot grow the label sets.
    services: Arc<HashSet<String>>,
}

impl Red {
    /// Counters and histograms for the calls to `services` (full names).
    pub(super) fn new(services: &[&str]) -> Red {
        Red {
            calls: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            services: Arc::new(services.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    /// Adds them to `registry`.
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "crm_rpc_server_requests",
            "Calls answered, by service, method, protocol (grpc, grpc_web, rest) and gRPC status code",
            self.calls.clone(),
        );
        registry.register_with_unit(
            "crm_rpc_server_duration",
            "Time from a call's arrival to the start of its answer (the whole call when unary)",
            prometheus_client::registry::Unit::Seconds,
            self.latency.clone(),
        );
    }

    /// The service and method labels of `path` (`/crm.iam.v1.AuthService/Login`).
    fn labels(&self, path: &str) -> (String, String) {
        match path.trim_start_matches('/').split_once('/') {
            Some((service, method))
                if self.services.contains(service)
                    && !method.is_empty()
                    && method.len() <= 64
                    && method.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                (service.to_owned(), method.to_owned())
            }
            _ => ("unknown".to_owned(), "unknown".to_owned()),
        }
    }
}

/// The canonical name of a gRPC status code (`OK`, `NOT_FOUND`, ...).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn status_code(headers: &http::HeaderMap) -> Option<&'static str> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(code_name(tonic::Code::from_i32(value)))
}

/// Marks grpc-web calls before the grpc-web layer turns them into gRPC, for [`RedLayer`].
#[derive(Clone, Copy, Default)]
pub struct GrpcWebMarkLayer;

impl<S> Layer<S> for GrpcWebMarkLayer {
    type Service = GrpcWebMark<S>;

    fn layer(&self, inner: S) -> GrpcWebMark<S> {
        GrpcWebMark { inner }
    }
}

/// See [`GrpcWebMarkLayer`].
#[derive(Clone)]
pub struct GrpcWebMark<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for GrpcWebMark<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let grpc_web = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc-web"));
        if grpc_web {
            request.extensions_mut().insert(Protocol::GrpcWeb);
        }
        self.inner.call(request)
    }
}

/// Counts every gRPC call (after the grpc-web and REST layers, so all three protocols) by its
/// status code, and times it to the start of its answer.
#[derive(Clone)]
pub struct RedLayer {
    red: Red,
}

impl RedLayer {
    pub(super) fn new(red: Red) -> RedLayer {
        RedLayer { red }
    }
}

impl<S> Layer<S> for RedLayer {
    type Service = RedService<S>;

    fn layer(&self, inner: S) -> RedService<S> {
        RedService {
            inner,
            red: self.red.clone(),
        }
    }
}

/// See [`RedLayer`].
#[derive(Clone)]
pub struct RedService<S> {
    inner: S,
    red: Red,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RedService<S>
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
        let protocol = request
            .extensions()
            .get::<Protocol>()
            .copied()
            .unwrap_or(Protocol::Grpc)
            .as_str();
        let (service, method) = self.red.labels(request.uri().path());
        let started = Instant::now();
        let red = self.red.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            red.latency
                .get_or_create(&Timing {
                    service: service.clone(),
                    method: method.clone(),
                    protocol,
                })
                .observe(started.elapsed().as_secs_f64());
            let call = Call {
                service,
                method,
                protocol,
                code: "OK",
            };
            // Trailers-only (most errors): the code is in the headers. Otherwise it comes in
            // the trailers, at the end of the answer.
            if let Some(code) = status_code(response.headers()) {
                red.calls.get_or_create(&Call { code, ..call }).inc();
                return Ok(response);
            }
            Ok(response.map(|inner| {
                tonic::body::Body::new(CountedBody {
                    inner,
                    counted: Some((red.calls.clone(), call)),
                })
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that counts its call when the trailers pass (or, when it ends without
    /// them or is dropped first, as `CANCELLED`: the caller went away).
    struct CountedBody {
        #[pin]
        inner: tonic::body::Body,
        counted: Option<(Family<Call, Counter>, Call)>,
    }

    impl PinnedDrop for CountedBody {
        fn drop(this: Pin<&mut Self>) {
            if let Some((calls, call)) = this.project().counted.take() {
                calls.get_or_create(&Call { code: "CANCELLED", ..call }).inc();
            }
        }
    }
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &frame
            && let Some(trailers) = frame.trailers_ref()
            && let Some((calls, call)) = this.counted.take()
        {
            let code = status_code(trailers).unwrap_or("UNKNOWN");
            calls.get_or_create(&Call { code, ..call }).inc();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
