//! `just bench`: the edge against a real `crm serve` process (release, embedded SQLite), each
//! figure beside its baseline from the same run:
//!
//! - REST `GET /api/v1/customers/{id}` (HTTP/1.1, keep-alive, one connection per concurrent
//!   client) against gRPC `GetCustomer` (HTTP/2), the same load generator, 64 at once: the
//!   ratio (goal >= 0.7);
//! - the rate limiter's cost: gRPC `GetCustomer` with quotas on (in memory, each call counted
//!   against its tenant's and caller's, set high enough never to refuse) against a server with
//!   them off: the ratio (goal >= 0.95).
//!
//! `EDGE_BENCH_CALLS` sets the calls per figure (default 20,000). Prints figures, never fails
//! on a time. (The gateway of microservices mode is not built yet: no proxied figure.)

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

mod support;

use bytes::Bytes;
use crm_core::testing::percentile;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use crm_proto::crm::customer::v1::*;
use http_body_util::{BodyExt, Full};
use support::{Server, authorized, connect, register, serve, timed};

const CONCURRENCY: usize = 64;

fn crm(data_dir: &std::path::Path, limits: Option<u32>) -> (Server, String) {
    let per_minute = limits.unwrap_or(0).to_string();
    serve(
        Command::new(env!("CARGO_BIN_EXE_crm"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("CRM_LOG__LEVEL", "warn")
            .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", &per_minute)
            .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", &per_minute)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("KAFKA_BROKERS")
            .env_remove("MONGODB_URL"),
    )
}

/// A tenant with one customer: the token and the customer's id.
async fn customer(addr: &str) -> (String, String) {
    let channel = connect(addr).await;
    let (token, _, _) = register(addr, "Bench Batik", "bench@kilang.example").await;
    let created = CustomerServiceClient::new(channel)
        .create_customer(authorized(
            CreateCustomerRequest {
                customer: Some(Customer {
                    r#type: CustomerType::Business as i32,
                    business: Some(BusinessDetails {
                        legal_name: "Kedai Batik Siti Sdn Bhd".into(),
                        ..Default::default()
                    }),
                    email: "orders@kedaisiti.example".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    (token, created.id)
}

/// GetCustomer over gRPC, `calls` in all, 64 at once on one HTTP/2 connection each 16.
async fn grpc(addr: &str, token: &str, id: &str, calls: usize) -> (f64, Vec<Duration>) {
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect(addr).await);
    }
    let (token, id) = (token.to_owned(), id.to_owned());
    timed(CONCURRENCY, calls, move |i| {
        let mut client = CustomerServiceClient::new(channels[i % channels.len()].clone());
        let request = authorized(GetCustomerRequest { id: id.clone() }, &token);
        async move {
            client.get_customer(request).await.unwrap();
        }
    })
    .await
}

/// GET /api/v1/customers/{id} over HTTP/1.1, `calls` in all, 64 at once (a pool of kept-alive
/// connections).
async fn rest(addr: &str, token: &str, id: &str, calls: usize) -> (f64, Vec<Duration>) {
    let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(CONCURRENCY)
            .build_http();
    let uri: http::Uri = format!("http://{addr}/api/v1/customers/{id}")
        .parse()
        .unwrap();
    let bearer = format!("Bearer {token}");
    let client = Arc::new(client);
    timed(CONCURRENCY, calls, move |_| {
        let request = http::Request::get(uri.clone())
            .header("authorization", &bearer)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let client = client.clone();
        async move {
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap();
        }
    })
    .await
}

fn line(what: &str, rate: f64, took: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what:<34} {rate:8.0} calls/s   p50 {:6.2} ms   p99 {:6.2} ms",
        ms(percentile(took, 0.5)),
        ms(percentile(took, 0.99))
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let calls: usize = std::env::var("EDGE_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    runtime.block_on(async {
        println!("edge benchmark (release, embedded SQLite, {CONCURRENCY} concurrent clients, {calls} calls each)");
        // Both servers up at once; the three loads take turns, five rounds, and each figure
        // is the median round (one run after another drifted by a third either way).
        let off_dir = tempfile::tempdir().unwrap();
        let (off, addr) = crm(off_dir.path(), None);
        let (token, id) = customer(&addr).await;
        let on_dir = tempfile::tempdir().unwrap();
        let (on, on_addr) = crm(on_dir.path(), Some(100_000_000));
        let (on_token, on_id) = customer(&on_addr).await;
        grpc(&addr, &token, &id, 2000).await;
        rest(&addr, &token, &id, 2000).await;
        grpc(&on_addr, &on_token, &on_id, 2000).await;
        let per_round = calls / 5;
        let (mut grpc_rounds, mut rest_rounds, mut limited_rounds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut grpc_took, mut rest_took, mut limited_took) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            let (rate, took) = grpc(&addr, &token, &id, per_round).await;
            grpc_rounds.push(rate);
            grpc_took.extend(took);
            let (rate, took) = rest(&addr, &token, &id, per_round).await;
            rest_rounds.push(rate);
            rest_took.extend(took);
            let (rate, took) = grpc(&on_addr, &on_token, &on_id, per_round).await;
            limited_rounds.push(rate);
            limited_took.extend(took);
        }
        drop((off, on));
        let median = |mut rates: Vec<f64>| {
            rates.sort_by(f64::total_cmp);
            rates[rates.len() / 2]
        };
        let (grpc_rate, rest_rate, limited_rate) =
            (median(grpc_rounds), median(rest_rounds), median(limited_rounds));
        for took in [&mut grpc_took, &mut rest_took, &mut limited_took] {
            took.sort();
        }
        println!("GetCustomer, rate limits off:");
        line("gRPC (HTTP/2)", grpc_rate, &grpc_took);
        line("REST (HTTP/1.1 JSON)", rest_rate, &rest_took);
        println!("  ratio REST / gRPC  {:.2}   (goal >= 0.7)", rest_rate / grpc_rate);
        println!("GetCustomer over gRPC, rate limits on (in memory, never refusing):");
        line("gRPC, limits on", limited_rate, &limited_took);
        println!(
            "  ratio limits on / off  {:.2}   (goal >= 0.95; two servers, taking turns)",
            limited_rate / grpc_rate
        );
    });
}
