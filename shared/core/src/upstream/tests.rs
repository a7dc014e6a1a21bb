use super::*;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tower::Service;

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
    let upstream = Upstream::connect(
        "edge",
        "customer",
        "edge.upstreams.customer",
        &format!("http://127.0.0.1:{port}"),
    )
    .unwrap();
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
        crate::breaker::BreakerState::Open
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
    let upstream = Upstream::connect(
        "edge",
        "sales",
        "edge.upstreams.sales",
        &format!("http://{addr}"),
    )
    .unwrap();
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

/// A process of the customer service that answers every call OK with an empty message, and
/// how many it served.
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
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames = futures::stream::iter([
            Ok::<_, Infallible>(http_body::Frame::data(bytes::Bytes::from_static(&[0; 5]))),
            Ok(http_body::Frame::trailers(trailers)),
        ]);
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::new(http_body_util::StreamBody::new(
                frames,
            )))
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
            crm_proto::grpc::health::v1::health_server::HealthServer::new(Healthy(serving.clone())),
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
                let _ =
                    tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
                let _ =
                    tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
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

mod rotation;
