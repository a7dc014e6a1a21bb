//! Microservices mode: IAM, customers and the edge as three `crm serve` processes on SQLite
//! (ports 0), with every call (gRPC, grpc-web, REST) going through the edge only; and two
//! customer processes on PostgreSQL behind one edge, one of them killed.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use crm_proto::crm::customer::v1 as customer;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::iam::v1::RegisterRequest;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::sales::v1::ListLeadsRequest;
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use support::authorized;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A `crm serve` process, stopped (SIGTERM) when dropped.
struct Process {
    child: Option<Child>,
    addr: String,
}

impl Process {
    /// Starts `crm serve --target <target>` on `dir` with `env`, once its ready line is out.
    fn start(target: &str, dir: &Path, env: &[(&str, String)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--target",
                target,
                "--data-dir",
            ])
            .arg(dir)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("KAFKA_BROKERS")
            .env_remove("MONGODB_URL")
            // Quotas off: this test is about routing, `tests/rest.rs` about quotas.
            .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
            .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("crm serving "),
            "{target}: ready line {line:?}"
        );
        let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
        Process {
            child: Some(child),
            addr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Ends the process at once (SIGKILL), as a crash or the OOM killer would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// IAM's public keys as a JWK Set file for the other processes, written by `crm keys jwks` as
/// an init container would.
async fn jwks_file(iam: &Process, dir: &Path) -> String {
    let path = dir.join("jwks.json");
    let out = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["keys", "jwks", "--server", &iam.url(), "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let set: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(set["keys"][0]["kty"], "OKP", "{set}");
    path.display().to_string()
}

/// One HTTP/1.1 request to the edge: status, headers and JSON body.
async fn rest(
    edge: &Process,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, http::HeaderMap, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", edge.addr))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("x-correlation-id", "gateway-test-1")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let (parts, bytes) = support::http1(edge.addr.as_str(), request).await;
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {bytes:?}"));
    (parts.status.as_u16(), parts.headers, json)
}

/// How many `CreateCustomer` calls a process answered OK, from its own `/metrics`.
async fn creates_served(process: &Process) -> u64 {
    let text = support::scrape(&process.addr).await;
    text.lines()
        .filter(|line| {
            line.starts_with("crm_rpc_server_requests_total{")
                && line.contains("method=\"CreateCustomer\"")
                && line.contains("code=\"OK\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `GET /api/v1/customers/{id}` through the edge.
async fn rest_customer(edge: &Process, id: &str, token: &str) -> (u16, http::HeaderMap, Value) {
    rest(edge, "GET", &format!("/api/v1/customers/{id}"), token, "").await
}

/// `GetCustomer` of `id` as the holder of `token`.
fn by_id(id: &str, token: &str) -> tonic::Request<customer::GetCustomerRequest> {
    authorized(customer::GetCustomerRequest { id: id.into() }, token)
}

async fn channel(edge: &Process) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(edge.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn health(edge: &Process, service: &str) -> i32 {
    HealthClient::new(channel(edge).await)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Checks the edge's health of `service` until it is `want` (the edge looks every 2 s).
async fn wait_for_health(edge: &Process, service: &str, want: ServingStatus) {
    let what = format!("{service} becomes {want:?} at the edge");
    crm_core::testing::eventually(&what, async || {
        (health(edge, service).await == want as i32).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_customers_and_the_edge_as_three_processes_serve_grpc_grpc_web_and_rest_through_the_edge()
 {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let iam = Process::start("iam", dirs[0].path(), &[]);
    let jwks = jwks_file(&iam, dirs[0].path()).await;
    let mut customers = Process::start(
        "customer",
        dirs[1].path(),
        &[("CRM_AUTH__JWKS_FILE", jwks.clone())],
    );
    let edge = Process::start(
        "edge",
        dirs[2].path(),
        &[
            ("CRM_AUTH__JWKS_FILE", jwks),
            ("CRM_EDGE__UPSTREAMS__IAM", iam.url()),
            ("CRM_EDGE__UPSTREAMS__CUSTOMER", customers.url()),
        ],
    );

    // gRPC through the edge: an open IAM method, then a protected customer one.
    let mut auth = AuthServiceClient::connect(edge.url()).await.unwrap();
    let register = |tenant: &str, email: &str| RegisterRequest {
        locale: String::new(),
        tenant_name: tenant.into(),
        email: email.into(),
        password: "batik canting motif".into(),
        display_name: "Owner".into(),
    };
    let token = auth
        .register(register("Kilang Desa Murni", "owner@kilang.example"))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut client = CustomerServiceClient::connect(edge.url()).await.unwrap();
    let mut create = tonic::Request::new(customer::CreateCustomerRequest {
        customer: Some(customer::Customer {
            r#type: customer::CustomerType::Business as i32,
            business: Some(customer::BusinessDetails {
                legal_name: "Butik Seri Batik".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    create
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    // The caller's deadline goes upstream with the call.
    create.set_timeout(std::time::Duration::from_secs(5));
    let created = client
        .create_customer(create)
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();

    // REST through the edge: the same customer, and a new one.
    let (status, headers, body) = rest_customer(&edge, &created.id, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["displayName"], "Butik Seri Batik");
    assert_eq!(headers["x-correlation-id"], "gateway-test-1");
    let (status, _, body) = rest(
        &edge,
        "POST",
        "/api/v1/customers",
        &token,
        r#"{"customer": {"type": "CUSTOMER_TYPE_BUSINESS", "business": {"legalName": "Kedai Kain Pelangi"}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let second = body["customer"]["id"].as_str().unwrap().to_owned();
    // The customer service stored it: read back over gRPC through the edge.
    let got = client
        .get_customer(authorized(
            customer::GetCustomerRequest { id: second.clone() },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(got.display_name, "Kedai Kain Pelangi");

    // JWKS through the edge (IAM's GetJwks).
    let (status, _, body) = rest(&edge, "GET", "/.well-known/jwks.json", &token, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"][0]["kty"], "OKP");

    // Another tenant, through the edge: the first tenant's customer is not found.
    let other = auth
        .register(register("Butik Lain", "ali@lain.example"))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let err = client
        .get_customer(by_id(&created.id, &other))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let (status, _, _) = rest_customer(&edge, &created.id, &other).await;
    assert_eq!(status, 404);

    // The edge checks tokens itself before forwarding: a forged one never reaches upstream.
    let err = client
        .get_customer(by_id(&created.id, "not.a.token"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // grpc-web through the edge.
    let grpc_web = grpc_web_get_customer(&edge, &token, &created.id).await;
    assert_eq!(grpc_web.display_name, "Butik Seri Batik");

    // Reflection at the edge lists what it forwards.
    let listed = reflection_services(&edge).await;
    assert!(
        listed.contains(&"crm.customer.v1.CustomerService".to_owned())
            && listed.contains(&"crm.iam.v1.AuthService".to_owned()),
        "{listed:?}"
    );

    // Sales runs nowhere the edge knows of: UNAVAILABLE saying which key to set.
    let err = LeadServiceClient::connect(edge.url())
        .await
        .unwrap()
        .list_leads(authorized(ListLeadsRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("edge.upstreams.sales"),
        "{}",
        err.message()
    );
    assert_eq!(
        health(&edge, "crm.sales.v1.LeadService").await,
        ServingStatus::NotServing as i32
    );

    // The edge's health follows its upstreams: customers stopped, their services are
    // NOT_SERVING and a call is UNAVAILABLE naming the context (not a hang), IAM still serves.
    wait_for_health(
        &edge,
        "crm.customer.v1.CustomerService",
        ServingStatus::Serving,
    )
    .await;
    customers.stop();
    wait_for_health(
        &edge,
        "crm.customer.v1.CustomerService",
        ServingStatus::NotServing,
    )
    .await;
    assert_eq!(
        health(&edge, "upstream:customer").await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health(&edge, "upstream:iam").await,
        ServingStatus::Serving as i32
    );
    let err = client
        .get_customer(by_id(&created.id, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("customer service cannot be reached"),
        "{}",
        err.message()
    );
    let (status, _, body) = rest_customer(&edge, &created.id, &token).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("edge.upstreams.customer"),
        "{body}"
    );
}

/// `GetCustomer` as a browser sends it: grpc-web over HTTP/1.1.
async fn grpc_web_get_customer(edge: &Process, token: &str, id: &str) -> customer::Customer {
    use prost::Message;
    let message = customer::GetCustomerRequest { id: id.into() }.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let mut sender = support::http1_connection(edge.addr.as_str()).await;
    let request = http::Request::post(format!(
        "http://{}/crm.customer.v1.CustomerService/GetCustomer",
        edge.addr
    ))
    .header("content-type", "application/grpc-web+proto")
    .header("x-grpc-web", "1")
    .header("authorization", format!("Bearer {token}"))
    .body(Full::new(Bytes::from(frame)))
    .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body[0], 0, "a data frame first: {body:?}");
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let answer = customer::GetCustomerResponse::decode(&body[5..5 + len]).unwrap();
    let trailers = String::from_utf8_lossy(&body[5 + len..]).to_string();
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    answer.customer.unwrap()
}

/// The services the edge's reflection lists.
async fn reflection_services(edge: &Process) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(channel(edge).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match answers.message().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{other:?}"),
    }
}

/// `POST /api/v1/auth/login` to `edge`, claiming to forward for `forwarded_for`: the status and
/// the problem's code.
async fn rest_login(edge: &Process, email: &str, password: &str, forwarded_for: &str) -> u16 {
    let mut sender = support::http1_connection(edge.addr.as_str()).await;
    let body =
        serde_json::json!({"tenant": "kilang-desa-murni", "email": email, "password": password});
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{}/api/v1/auth/login", edge.addr))
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded_for)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    response.status().as_u16()
}

/// A gRPC Login through `edge`, claiming to forward for `forwarded_for`.
async fn grpc_login(
    edge: &Process,
    password: &str,
    forwarded_for: &str,
) -> Result<String, tonic::Status> {
    let mut request = tonic::Request::new(crm_proto::crm::iam::v1::LoginRequest {
        tenant: "kilang-desa-murni".into(),
        email: "owner@kilang.example".into(),
        password: password.into(),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    AuthServiceClient::connect(edge.url())
        .await
        .unwrap()
        .login(request)
        .await
        .map(|r| r.into_inner().access_token)
}

/// The per-address sign-in limit is fed by every protocol and through the edge: REST failures
/// lock gRPC out from the same address; a client's own `X-Forwarded-For` changes nothing unless
/// it comes from a proxy the operator trusts, whose word then keys the limit and the audit.
#[tokio::test(flavor = "multi_thread")]
async fn every_protocol_through_the_edge_feeds_one_per_address_sign_in_limit() {
    const PASSWORD: &str = "batik canting motif";
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // IAM believes the edges (on this machine, 127.0.0.1) about whom they forward for.
    let iam = Process::start(
        "iam",
        dirs[0].path(),
        &[
            ("CRM_TRUSTED_PROXIES", r#"["127.0.0.1"]"#.to_owned()),
            ("CRM_IAM__ADDRESS_FAILURE_LIMIT", "3".to_owned()),
            ("CRM_IAM__ACCOUNT_FAILURE_LIMIT", "100".to_owned()),
            ("CRM_IAM__TENANT_FAILURE_LIMIT", "100".to_owned()),
        ],
    );
    let jwks = jwks_file(&iam, dirs[0].path()).await;
    // An edge facing the Internet trusts nobody in front of it.
    let facing = Process::start(
        "edge",
        dirs[1].path(),
        &[
            ("CRM_AUTH__JWKS_FILE", jwks.clone()),
            ("CRM_EDGE__UPSTREAMS__IAM", iam.url()),
        ],
    );
    // An edge behind a load balancer (here, the test itself) believes it.
    let behind = Process::start(
        "edge",
        dirs[2].path(),
        &[
            ("CRM_AUTH__JWKS_FILE", jwks),
            ("CRM_EDGE__UPSTREAMS__IAM", iam.url()),
            ("CRM_TRUSTED_PROXIES", r#"["127.0.0.1"]"#.to_owned()),
        ],
    );
    AuthServiceClient::connect(facing.url())
        .await
        .unwrap()
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Kilang Desa Murni".into(),
            email: "owner@kilang.example".into(),
            password: PASSWORD.into(),
            display_name: "Owner".into(),
        })
        .await
        .unwrap();

    // Three REST failures, each claiming another address: the facing edge ignores the claims,
    // and the third locks the address out.
    for (i, want) in [(1, 401), (2, 401), (3, 429)] {
        let status = rest_login(
            &facing,
            "owner@kilang.example",
            "wrong password",
            &format!("198.51.100.{i}"),
        )
        .await;
        assert_eq!(status, want, "attempt {i}");
    }
    // This address is locked out on gRPC too, whatever it claims, the right password included.
    let err = grpc_login(&facing, PASSWORD, "198.51.100.99")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("too many failed logins"), "{err:?}");

    // Behind a trusted proxy, its word keys the limit: one client locked out, another not.
    for want in [401, 401, 429] {
        assert_eq!(
            rest_login(&behind, "owner@kilang.example", "wrong", "203.0.113.9").await,
            want
        );
    }
    let err = grpc_login(&behind, PASSWORD, "203.0.113.9")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let token = grpc_login(&behind, PASSWORD, "192.0.2.44").await.unwrap();

    // The audit names each failure's address as resolved, REST ones included.
    let events = crm_proto::crm::iam::v1::audit_service_client::AuditServiceClient::new(
        channel(&behind).await,
    )
    .list_audit_events(authorized(
        crm_proto::crm::iam::v1::ListAuditEventsRequest {
            page_size: 100,
            kinds: vec![crm_proto::crm::iam::v1::AuditEventKind::LoginFailed as i32],
            ..Default::default()
        },
        &token,
    ))
    .await
    .unwrap()
    .into_inner()
    .audit_events;
    let mut addresses: Vec<&str> = events.iter().map(|e| e.client_address.as_str()).collect();
    addresses.sort_unstable();
    assert_eq!(
        addresses,
        [
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.1",
            "203.0.113.9",
            "203.0.113.9",
            "203.0.113.9"
        ],
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"]
async fn a_customer_process_killed_behind_the_edge_costs_no_call_after_it() {
    // IAM on SQLite; two customer processes on one PostgreSQL database; one edge seeing both.
    let database = crm_core::testing::backend("DATABASE_URL");
    let mut config = crm_core::Config::default();
    config.target = vec![crm_core::config::Target::named("customer")];
    config.database.url = Some(crm_core::config::Secret::new(database.clone()));
    crm::migrate(&config).await.expect("crm migrate");
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let iam = Process::start("iam", dirs[0].path(), &[]);
    let jwks = jwks_file(&iam, dirs[0].path()).await;
    let replica = |dir: &Path| {
        Process::start(
            "customer",
            dir,
            &[
                ("CRM_AUTH__JWKS_FILE", jwks.clone()),
                ("CRM_DATABASE__URL", database.clone()),
                ("CRM_CUSTOMER__IAM_ENDPOINT", iam.url()),
            ],
        )
    };
    let mut doomed = replica(dirs[1].path());
    let survivor = replica(dirs[2].path());
    let edge = Process::start(
        "edge",
        dirs[3].path(),
        &[
            ("CRM_AUTH__JWKS_FILE", jwks.clone()),
            ("CRM_EDGE__UPSTREAMS__IAM", iam.url()),
            (
                "CRM_EDGE__UPSTREAMS__CUSTOMER",
                format!("{},{}", doomed.url(), survivor.url()),
            ),
        ],
    );
    let token = AuthServiceClient::connect(edge.url())
        .await
        .unwrap()
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: format!("Batik Failover {}", uuid::Uuid::now_v7().simple()),
            email: "owner@failover.example".into(),
            password: "batik canting motif".into(),
            display_name: "Owner".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut client = CustomerServiceClient::new(channel(&edge).await);
    let create = |n: usize| {
        let mut request = authorized(
            customer::CreateCustomerRequest {
                customer: Some(customer::Customer {
                    r#type: customer::CustomerType::Business as i32,
                    business: Some(customer::BusinessDetails {
                        legal_name: format!("Kedai Batik {n}"),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        );
        request.set_timeout(std::time::Duration::from_secs(5));
        request
    };
    // Both processes take calls, in turn.
    let mut created = Vec::new();
    for n in 0..4 {
        created.push(
            client
                .create_customer(create(n))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    assert_eq!(
        (
            creates_served(&doomed).await,
            creates_served(&survivor).await
        ),
        (2, 2),
        "the edge sends every other call to each process"
    );

    // kill -9: the process ends with no goodbye to the edge.
    doomed.kill();
    let mut failed = Vec::new();
    for n in 4..64 {
        match client.create_customer(create(n)).await {
            Ok(answer) => created.push(answer.into_inner()),
            Err(status) => failed.push(format!("{n}: {:?} {}", status.code(), status.message())),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 60 creates after the kill failed: {failed:#?}",
        failed.len()
    );
    // Every create answered OK is there, read back through the edge.
    for answer in &created {
        let id = &answer.customer.as_ref().unwrap().id;
        client.get_customer(by_id(id, &token)).await.unwrap();
    }
    assert_eq!(created.len(), 64);
    // The context still serves: one of its processes does.
    assert_eq!(
        health(&edge, "crm.customer.v1.CustomerService").await,
        ServingStatus::Serving as i32
    );
}
