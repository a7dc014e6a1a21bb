//! The composed server as its users meet it: reflection, health, grpc-web over HTTP/1.1, CORS,
//! authentication, and UNIMPLEMENTED for what is not built yet.

use crate::support;

use std::collections::BTreeSet;

use crm_core::config::Target;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::{GetJwksRequest, ListUsersRequest, LoginRequest};
use crm_proto::crm::sales::v1::ListLeadsRequest;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use http_body_util::Full;
use prost::Message;
use support::{authorized, spawn, spawn_targets};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha;
use tonic_types::StatusExt;

const STANDARD_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Every context's services (as each declares them) and the edge's.
fn every_crm_service() -> Vec<&'static str> {
    crm::Contexts::BUILT_IN
        .iter()
        .flat_map(|c| c.services.iter())
        .chain(crm_proto::services::EDGE)
        .copied()
        .collect()
}

async fn reflect(channel: tonic::transport::Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    stream
        .message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

async fn listed_services(channel: tonic::transport::Channel) -> BTreeSet<String> {
    match reflect(channel, MessageRequest::ListServices(String::new())).await {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn reflection_v1_lists_every_crm_service_and_the_standard_ones() {
    let server = spawn().await;
    let listed = listed_services(server.channel.clone()).await;
    let expected: BTreeSet<String> = every_crm_service()
        .into_iter()
        .chain(STANDARD_SERVICES)
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn reflection_v1alpha_answers_too_for_older_clients() {
    let server = spawn().await;
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = stream
        .message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap();
    let v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list) = answer
    else {
        panic!("unexpected answer {answer:?}")
    };
    let names: BTreeSet<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains("crm.sales.v1.LeadService"), "{names:?}");
    assert!(names.contains("crm.iam.v1.AuthService"), "{names:?}");
}

#[tokio::test]
async fn reflection_serves_descriptors_with_their_http_routes() {
    let server = spawn().await;
    let answer = reflect(
        server.channel.clone(),
        MessageRequest::FileContainingSymbol("crm.customer.v1.CustomerService".into()),
    )
    .await;
    let MessageResponse::FileDescriptorResponse(files) = answer else {
        panic!("unexpected answer {answer:?}")
    };
    let file = files
        .file_descriptor_proto
        .iter()
        .find(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice())
                .unwrap()
                .name()
                == "crm/customer/v1/customers.proto"
        })
        .expect("the customer contract is served");
    // google.api.http is an extension: prost drops it when decoding, so look at the bytes.
    let text = String::from_utf8_lossy(file);
    assert!(
        text.contains("/api/v1/customers/{customer_id}/contacts/{contact_id}"),
        "routes are kept in the descriptor"
    );
}

#[tokio::test]
async fn only_the_selected_targets_are_served() {
    let server = spawn_targets(&[Target::named("iam")]).await;
    let listed = listed_services(server.channel.clone()).await;
    let expected: BTreeSet<String> = crm_proto::services::IAM
        .iter()
        .copied()
        .chain(STANDARD_SERVICES)
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, expected);

    let mut leads = LeadServiceClient::new(server.channel.clone());
    let err = leads
        .list_leads(authorized(ListLeadsRequest::default(), &server.token()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unimplemented,
        "a service of another target is not routed here"
    );
}

#[tokio::test]
async fn health_is_serving_for_the_process_and_every_service() {
    let server = spawn().await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in std::iter::once("")
        .chain(every_crm_service())
        .chain(STANDARD_SERVICES)
    {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "crm.billing.v1.InvoiceService".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // List (the health protocol's newest method) names the process and every service, each
    // with the status Check gives.
    use crm_proto::grpc::health::v1 as standard;
    let listed = standard::health_client::HealthClient::new(server.channel.clone())
        .list(standard::HealthListRequest {})
        .await
        .unwrap()
        .into_inner()
        .statuses;
    let expected: std::collections::BTreeSet<String> = std::iter::once("")
        .chain(every_crm_service())
        .chain(STANDARD_SERVICES)
        .map(str::to_owned)
        .collect();
    let named: std::collections::BTreeSet<String> = listed
        .keys()
        .filter(|name| !name.starts_with("breaker:"))
        .cloned()
        .collect();
    assert_eq!(named, expected);
    assert!(
        listed
            .values()
            .all(|s| s.status == ServingStatus::Serving as i32),
        "{listed:?}"
    );

    // Watch says the status now, and SERVICE_UNKNOWN for a name it does not know.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "crm.billing.v1.InvoiceService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::ServiceUnknown
    );
    let mut watch = health
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
}

/// A gRPC message in a grpc-web body: flag byte, big-endian length, bytes.
fn grpc_web_frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![flag];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn a_grpc_web_call_over_http1_is_answered() {
    let server = spawn().await;
    let payload = HealthCheckRequest {
        service: "crm.customer.v1.CustomerService".into(),
    }
    .encode_to_vec();
    let request = http::Request::post(format!(
        "http://{}/grpc.health.v1.Health/Check",
        server.addr
    ))
    .header("content-type", "application/grpc-web+proto")
    .header("x-grpc-web", "1")
    .header("origin", "https://crm.kilang.example")
    .body(Full::new(bytes::Bytes::from(grpc_web_frame(0, &payload))))
    .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;

    assert_eq!(parts.status, http::StatusCode::OK);
    assert_eq!(parts.version, http::Version::HTTP_11);
    assert_eq!(parts.headers["content-type"], "application/grpc-web+proto");
    assert!(
        !parts.headers.contains_key("access-control-allow-origin"),
        "no other origin by default"
    );
    assert_eq!(body[0], 0, "the first frame is the message");
    let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let message = HealthCheckResponse::decode(&body[5..5 + length]).unwrap();
    assert_eq!(message.status(), ServingStatus::Serving);
    let trailers = &body[5 + length..];
    assert_eq!(trailers[0], 0x80, "then the trailers frame");
    assert!(String::from_utf8_lossy(&trailers[5..]).contains("grpc-status:0"));
}

/// A browser's preflight from `origin` for a grpc-web call.
fn preflight(server: &support::TestServer, origin: &str) -> http::Request<Full<bytes::Bytes>> {
    http::Request::builder()
        .method("OPTIONS")
        .uri(format!(
            "http://{}/crm.customer.v1.CustomerService/ListCustomers",
            server.addr
        ))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .body(Full::new(bytes::Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn by_default_no_other_origin_may_call_from_a_browser() {
    let server = spawn().await;
    let (parts, _) = support::http1(server.addr, preflight(&server, "https://evil.example")).await;
    assert!(
        !parts.headers.contains_key("access-control-allow-origin"),
        "same origin only: {:?}",
        parts.headers
    );
}

#[tokio::test]
async fn browsers_get_a_cors_preflight_answer() {
    let server = support::spawn_with(|config| {
        config.cors.allowed_origins = vec!["https://crm.kilang.example".into()];
    })
    .await;
    let (parts, _) = support::http1(server.addr, preflight(&server, "https://evil.example")).await;
    assert!(
        !parts.headers.contains_key("access-control-allow-origin"),
        "an origin not listed: {:?}",
        parts.headers
    );
    let request = http::Request::builder()
        .method("OPTIONS")
        .uri(format!(
            "http://{}/crm.customer.v1.CustomerService/ListCustomers",
            server.addr
        ))
        .header("origin", "https://crm.kilang.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, _) = support::http1(server.addr, request).await;
    assert!(parts.status.is_success(), "{:?}", parts.status);
    assert_eq!(
        parts.headers["access-control-allow-origin"],
        "https://crm.kilang.example"
    );
    let allowed = parts.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("authorization") && allowed.contains("x-grpc-web"),
        "{allowed}"
    );
}

#[tokio::test]
async fn a_protected_method_without_a_valid_token_is_unauthenticated() {
    let server = spawn().await;
    let mut users = UserServiceClient::new(server.channel.clone());

    let err = users
        .list_users(ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "MISSING_TOKEN"
    );

    for token in ["not-a-jwt".to_owned(), server.forged_token()] {
        let err = users
            .list_users(authorized(ListUsersRequest::default(), &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{token}");
        assert_eq!(
            err.get_error_details().error_info().unwrap().reason,
            "INVALID_TOKEN"
        );
    }
}

#[tokio::test]
async fn login_needs_no_token() {
    let server = spawn().await;
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let request = LoginRequest {
        tenant: "kilang".into(),
        email: "siti@kilang.example".into(),
        password: "x".into(),
    };
    let err = auth.login(request).await.unwrap_err();
    // Refused for its credentials, not for lack of a token.
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test]
async fn every_response_carries_a_correlation_id() {
    let server = spawn().await;
    // On an answer...
    let mut auth = AuthServiceClient::new(server.channel.clone());
    let mut request = tonic::Request::new(GetJwksRequest::default());
    request
        .metadata_mut()
        .insert("x-correlation-id", "batik-123".parse().unwrap());
    let ok = auth.get_jwks(request).await.unwrap();
    assert_eq!(ok.metadata().get("x-correlation-id").unwrap(), "batik-123");
    // ... and on an error, a new one when the caller sent none.
    let mut users = UserServiceClient::new(server.channel.clone());
    let err = users
        .list_users(ListUsersRequest::default())
        .await
        .unwrap_err();
    let id = err
        .metadata()
        .get("x-correlation-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");
}

#[tokio::test]
async fn metrics_show_each_outbox_backlog_to_scrapers() {
    let server = spawn().await;
    // An event in IAM's outbox, and a group positioned before it (as a replay leaves it).
    let config = crm_core::config::Config {
        data_dir: server.data_dir.clone(),
        ..Default::default()
    };
    let iam = crm_core::storage::Database::open(&config, "iam")
        .await
        .unwrap();
    let mut tx = iam.begin().await.unwrap();
    let event = crm_events::Envelope::new(
        "crm.iam",
        "tenant-1",
        "user-1",
        &crm_proto::crm::iam::events::v1::UserCreated::default(),
        &crm_events::Causation::default(),
    );
    crm_events::outbox::append(&mut tx, "user", &event)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let log = crm_events::OutboxLog::new(iam.clone(), "crm.iam.events.v1");
    log.set_cursor("notification", 0).await.unwrap();
    // The server's relay publishes it; then the gauges have known values.
    crm_core::testing::eventually("the relay published the event", || async {
        (log.backlog().await.unwrap().pending == 0).then_some(())
    })
    .await;
    let request = http::Request::get(format!("http://{}/metrics", server.addr))
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    assert_eq!(parts.status, http::StatusCode::OK, "open without a token");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("crm_outbox_backlog{topic=\"crm.iam.events.v1\"} 0\n"),
        "nothing left to publish: {text}"
    );
    assert!(
        text.contains(
            "crm_outbox_oldest_unpublished_age_seconds{topic=\"crm.iam.events.v1\"} 0.0\n"
        ),
        "no unpublished event has an age: {text}"
    );
    assert!(
        text.contains(
            "crm_consumer_lag{consumer=\"notification\",topic=\"crm.iam.events.v1\"} 1\n"
        ),
        "{text}"
    );
    // Without an Accept header (promtool, curl, the classic client parsers): the Prometheus
    // text format, counters named by their samples, no `# EOF`.
    assert_eq!(
        parts.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        text.contains("# TYPE crm_notification_deliveries_total counter\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "{text}");
    // Every consumer group of the process shows its dead letters from 0, so an alert on their
    // increase sees the first one.
    assert!(
        text.contains(
            "crm_dead_letters{consumer=\"notification\",topic=\"crm.iam.events.v1\"} 0\n"
        ),
        "{text}"
    );
    for process in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "crm_build_info{version=",
    ] {
        assert!(text.contains(process), "{process} in {text}");
    }
    // A scraper that asks for OpenMetrics (Prometheus does) gets it.
    let request = http::Request::get(format!("http://{}/metrics", server.addr))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, body) = support::http1(server.addr, request).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        parts.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        text.contains("# TYPE crm_notification_deliveries counter\n"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text: {text}"
    );
}

#[tokio::test]
async fn metrics_count_every_call_by_method_protocol_and_code_and_time_it() {
    use crm_proto::crm::customer::v1::ListCustomersRequest;
    use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
    let server = spawn().await;
    let token = support::iam::register(&server, "Kilang Metrik", "siti@metrik.example")
        .await
        .access;
    let mut customers = CustomerServiceClient::new(server.channel.clone());
    customers
        .list_customers(authorized(ListCustomersRequest::default(), &token))
        .await
        .unwrap();
    let refused = customers
        .list_customers(ListCustomersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // REST, and grpc-web: the same method under their own protocol.
    let rest = http::Request::get(format!("http://{}/api/v1/customers", server.addr))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let (parts, _) = support::http1(server.addr, rest).await;
    assert_eq!(parts.status, http::StatusCode::OK);
    let mut frame = vec![0u8, 0, 0, 0, 0];
    let web = http::Request::post(format!(
        "http://{}/crm.customer.v1.CustomerService/ListCustomers",
        server.addr
    ))
    .header("content-type", "application/grpc-web+proto")
    .header("authorization", format!("Bearer {token}"))
    .body(Full::new(bytes::Bytes::from(std::mem::take(&mut frame))))
    .unwrap();
    let (parts, body) = support::http1(server.addr, web).await;
    assert_eq!(parts.status, http::StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("grpc-status:0"));
    // A path no service serves is counted, but not by its name.
    let stray = http::Request::post(format!("http://{}/evil.v1.Scan/Probe123", server.addr))
        .header("content-type", "application/grpc-web+proto")
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    support::http1(server.addr, stray).await;

    let request = http::Request::get(format!("http://{}/metrics", server.addr))
        .body(Full::new(bytes::Bytes::new()))
        .unwrap();
    let (_, body) = support::http1(server.addr, request).await;
    let text = String::from_utf8_lossy(&body);
    let calls = |protocol: &str, code: &str| {
        format!(
            "crm_rpc_server_requests_total{{service=\"crm.customer.v1.CustomerService\",method=\"ListCustomers\",protocol=\"{protocol}\",code=\"{code}\"}} 1\n"
        )
    };
    for line in [
        calls("grpc", "OK"),
        calls("grpc", "UNAUTHENTICATED"),
        calls("rest", "OK"),
        calls("grpc_web", "OK"),
        "crm_rpc_server_duration_seconds_count{service=\"crm.customer.v1.CustomerService\",method=\"ListCustomers\",protocol=\"grpc\"} 2\n".to_owned(),
    ] {
        assert!(text.contains(&line), "{line} in {text}");
    }
    assert!(
        text.contains("service=\"unknown\",method=\"unknown\",protocol=\"grpc_web\",code=\"UNAUTHENTICATED\"} 1\n")
            && !text.contains("evil"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE crm_rpc_server_duration_seconds histogram")
            && text.contains("crm_db_pool_connections{context=\"customer\",state=\"idle\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn the_web_console_is_served_at_the_root_with_its_assets() {
    let server = spawn().await;
    let get = |path: &str, etag: Option<&str>| {
        let mut request = http::Request::get(format!("http://{}{path}", server.addr));
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.body(Full::new(bytes::Bytes::new())).unwrap()
    };
    let (parts, body) = support::http1(server.addr, get("/", None)).await;
    assert_eq!(parts.status, http::StatusCode::OK);
    assert_eq!(parts.headers["content-type"], "text/html");
    assert!(parts.headers.contains_key("content-security-policy"));
    let page = String::from_utf8_lossy(&body).into_owned();
    assert!(page.contains("<div id=\"app\"></div>"), "{page}");
    let script = page
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (parts, body) = support::http1(server.addr, get(script, None)).await;
    assert_eq!(parts.status, http::StatusCode::OK, "{script}");
    assert!(
        parts.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"),
        "{:?}",
        parts.headers
    );
    assert!(body.len() > 1000);
    // Unchanged since the last fetch: 304, no body.
    let etag = parts.headers["etag"].to_str().unwrap().to_owned();
    let (parts, body) = support::http1(server.addr, get(script, Some(&etag))).await;
    assert_eq!(parts.status, http::StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // The API beside it is untouched.
    let (parts, _) = support::http1(server.addr, get("/api/v1/openapi.json", None)).await;
    assert_eq!(parts.headers["content-type"], "application/json");
}

#[tokio::test]
async fn shutdown_ends_open_streams_at_once_instead_of_waiting_out_the_grace_period() {
    let data_dir = tempfile::tempdir().unwrap();
    let config = crm_core::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_owned(),
        // An hour: if the open stream held shutdown up, this test would hang, not pass.
        shutdown_grace_seconds: 3600,
        ..crm_core::Config::default()
    };
    let app = crm::Application::build(config).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    stop.send(()).unwrap();
    // The stream may report NOT_SERVING first; then it ends, telling the client to reconnect.
    let end = loop {
        match watch.message().await {
            Ok(Some(update)) => assert_eq!(update.status(), ServingStatus::NotServing),
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(end.code(), Code::Unavailable, "{end:?}");
    assert!(end.message().contains("shutting down"), "{end:?}");
    running
        .await
        .unwrap()
        .expect("the server stops cleanly, without waiting for the grace period");
}

/// A grpc-web request for `path` carrying `message`, as a browser sends it (`Accept-Encoding`
/// when `gzip`).
fn grpc_web(
    server: &support::TestServer,
    path: &str,
    token: &str,
    message: &[u8],
    gzip: bool,
) -> http::Request<Full<bytes::Bytes>> {
    let mut request = http::Request::post(format!("http://{}{path}", server.addr))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {token}"));
    if gzip {
        request = request.header("accept-encoding", "gzip, deflate, br");
    }
    request
        .body(Full::new(bytes::Bytes::from(grpc_web_frame(0, message))))
        .unwrap()
}

#[tokio::test]
async fn answers_are_gzipped_for_browsers_and_streams_are_not() {
    use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
    use crm_proto::crm::customer::v1::{ListCustomersResponse, *};
    use std::io::Read;

    let server = spawn().await;
    let owner = support::iam::register(&server, "Kilang", "owner@kilang.example").await;
    let mut customers = CustomerServiceClient::new(server.channel.clone());
    for name in ["Kedai Tan", "Butik Seri", "Batik Warisan", "Songket Mas"] {
        let customer = crate::customers::company(name, &["batik", "wholesale"]);
        crate::customers::create(&mut customers, &owner.access, customer)
            .await
            .unwrap();
    }
    let list = ListCustomersRequest::default().encode_to_vec();
    let path = "/crm.customer.v1.CustomerService/ListCustomers";

    // Asked by a browser: gzipped, and the same grpc-web answer once inflated.
    let (parts, body) = support::http1(
        server.addr,
        grpc_web(&server, path, &owner.access, &list, true),
    )
    .await;
    assert_eq!(parts.status, http::StatusCode::OK);
    assert_eq!(parts.headers["content-encoding"], "gzip", "{parts:?}");
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert!(
        body.len() < inflated.len(),
        "{} of {}",
        body.len(),
        inflated.len()
    );
    let length = u32::from_be_bytes(inflated[1..5].try_into().unwrap()) as usize;
    let answer = ListCustomersResponse::decode(&inflated[5..5 + length]).unwrap();
    assert_eq!(answer.customers.len(), 4);
    assert!(String::from_utf8_lossy(&inflated[5 + length..]).contains("grpc-status:0"));
    // Not asked: as it is.
    let (parts, body) = support::http1(
        server.addr,
        grpc_web(&server, path, &owner.access, &list, false),
    )
    .await;
    assert!(!parts.headers.contains_key("content-encoding"), "{parts:?}");
    assert_eq!(body[0], 0);

    // A stream (the bell's) is never held back by a compressor, asked or not.
    let mut sender = support::http1_connection(server.addr).await;
    let watch = crm_proto::crm::notification::v1::WatchNotificationsRequest::default();
    let response = sender
        .send_request(grpc_web(
            &server,
            "/crm.notification.v1.NotificationService/WatchNotifications",
            &owner.access,
            &watch.encode_to_vec(),
            true,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert!(
        !response.headers().contains_key("content-encoding"),
        "{:?}",
        response.headers()
    );
    drop(response);

    // REST: JSON gzipped, an NDJSON stream not.
    for (path, gzipped) in [
        ("/api/v1/customers", true),
        ("/api/v1/customers/export", false),
    ] {
        let request = http::Request::get(format!("http://{}{path}", server.addr))
            .header("authorization", format!("Bearer {}", owner.access))
            .header("accept-encoding", "gzip")
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        let (parts, _) = support::http1(server.addr, request).await;
        assert_eq!(parts.status, http::StatusCode::OK, "{path}");
        assert_eq!(
            parts.headers.get("content-encoding").is_some(),
            gzipped,
            "{path}: {parts:?}"
        );
    }
}
