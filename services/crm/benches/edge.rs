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
//! - the gateway of microservices mode: gRPC `GetCustomer` through an edge process forwarding to
//!   a customer process, against the customer process called directly: the ratio (goal >= 0.6);
//! - with `REDIS_URL` set, the limiter in Redis (what replicas share): quotas on against off,
//!   both on Redis.
//!
//! `EDGE_BENCH_CALLS` sets the calls per figure (default 35,000). Prints figures, never fails
//! on a time.

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
/// Rounds in which every load runs once; a ratio is the median of its rounds' ratios, so a
/// drift of the machine during the run touches both sides of each.
const ROUNDS: usize = 7;

/// `crm serve` on `data_dir` with quotas of `limits` a minute (`None`: off), and `env`.
fn crm(
    data_dir: &std::path::Path,
    limits: Option<u32>,
    env: &[(&str, String)],
) -> (Server, String) {
    let per_minute = limits.unwrap_or(0).to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("CRM_LOG__LEVEL", "warn")
        // Seven servers share two cores with the load: their idle relays and consumers look
        // for events once a second instead of every 50 ms, so they take less of the calls' CPU.
        .env("CRM_EVENTS__POLL_MILLIS", "1000")
        .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", &per_minute)
        .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", &per_minute)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("KAFKA_BROKERS")
        .env_remove("MONGODB_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    serve(&mut command)
}

/// IAM's public keys as a JWK Set file in `dir`, written by `crm keys jwks` (as the chart's
/// init containers do), for processes that do not run IAM.
fn jwks_file(iam: &str, dir: &std::path::Path) -> String {
    let path = dir.join("jwks.json");
    let out = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args([
            "keys",
            "jwks",
            "--server",
            &format!("http://{iam}"),
            "--out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    path.display().to_string()
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

/// One load of the run: what it calls, where, and what it measured.
struct Load {
    name: &'static str,
    rest: bool,
    addr: String,
    token: String,
    id: String,
    rounds: Vec<f64>,
    took: Vec<Duration>,
}

impl Load {
    fn new(name: &'static str, rest: bool, addr: &str, token: &str, id: &str) -> Load {
        Load {
            name,
            rest,
            addr: addr.to_owned(),
            token: token.to_owned(),
            id: id.to_owned(),
            rounds: Vec::new(),
            took: Vec::new(),
        }
    }

    async fn run(&self, calls: usize) -> (f64, Vec<Duration>) {
        if self.rest {
            rest(&self.addr, &self.token, &self.id, calls).await
        } else {
            grpc(&self.addr, &self.token, &self.id, calls).await
        }
    }

    /// The median round's rate (one run after another drifted by a third either way).
    fn rate(&self) -> f64 {
        let mut rates = self.rounds.clone();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    }

    fn print(&mut self) {
        self.took.sort();
        line(self.name, self.rate(), &self.took);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let calls: usize = std::env::var("EDGE_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(35_000);
    let redis = std::env::var("REDIS_URL").ok();
    runtime.block_on(async {
        println!("edge benchmark (release, embedded SQLite, {CONCURRENCY} concurrent clients, {calls} calls each)");
        let dirs: Vec<_> = (0..7).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut servers = Vec::new();
        let mut loads = Vec::new();
        // One process with everything: gRPC and REST, quotas off, then on (in memory).
        let (server, addr) = crm(dirs[0].path(), None, &[]);
        servers.push(server);
        let (token, id) = customer(&addr).await;
        loads.push(Load::new("gRPC (HTTP/2)", false, &addr, &token, &id));
        loads.push(Load::new("REST (HTTP/1.1 JSON)", true, &addr, &token, &id));
        let (server, on) = crm(dirs[1].path(), Some(100_000_000), &[]);
        servers.push(server);
        let (token, id) = customer(&on).await;
        loads.push(Load::new("gRPC, limits on (memory)", false, &on, &token, &id));
        // Microservices: IAM, customers and an edge forwarding to both; the customer process
        // called directly, and through the edge.
        let target = |name: &str| ("CRM_TARGET", name.to_owned());
        let (server, iam) = crm(dirs[2].path(), None, &[target("iam")]);
        servers.push(server);
        let jwks = jwks_file(&iam, dirs[2].path());
        let auth = ("CRM_AUTH__JWKS_FILE", jwks);
        let (server, customers) = crm(dirs[3].path(), None, &[auth.clone(), target("customer")]);
        servers.push(server);
        let (server, edge) = crm(
            dirs[4].path(),
            None,
            &[
                auth.clone(),
                target("edge"),
                ("CRM_EDGE__UPSTREAMS__IAM", format!("http://{iam}")),
                ("CRM_EDGE__UPSTREAMS__CUSTOMER", format!("http://{customers}")),
            ],
        );
        servers.push(server);
        let (token, id) = customer(&edge).await;
        loads.push(Load::new("gRPC to the customer process", false, &customers, &token, &id));
        loads.push(Load::new("gRPC through the edge", false, &edge, &token, &id));
        // Quotas in Redis (shared by replicas), against the same with quotas off.
        if let Some(url) = &redis {
            let with_redis = ("REDIS_URL", url.clone());
            let (server, off) = crm(dirs[5].path(), None, std::slice::from_ref(&with_redis));
            servers.push(server);
            let (token, id) = customer(&off).await;
            loads.push(Load::new("gRPC, Redis, limits off", false, &off, &token, &id));
            let (server, on) = crm(dirs[6].path(), Some(100_000_000), &[with_redis]);
            servers.push(server);
            let (token, id) = customer(&on).await;
            loads.push(Load::new("gRPC, Redis, limits on", false, &on, &token, &id));
        }
        for load in &loads {
            load.run(2000).await;
        }
        // Every server up at once; the loads take turns, each round starting with another one.
        let per_round = calls / ROUNDS;
        for round in 0..ROUNDS {
            // Each round starts with another load, so none always follows the same one.
            let count = loads.len();
            for i in 0..count {
                let load = &mut loads[(round + i) % count];
                let (rate, took) = load.run(per_round).await;
                load.rounds.push(rate);
                load.took.extend(took);
            }
        }
        drop(servers);
        println!("GetCustomer:");
        for load in &mut loads {
            load.print();
        }
        let rounds = |name: &str| loads.iter().find(|l| l.name == name).map(|l| l.rounds.clone());
        let ratio = |a: &str, b: &str| {
            let (a, b) = rounds(a).zip(rounds(b))?;
            let mut ratios: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a / b).collect();
            ratios.sort_by(f64::total_cmp);
            Some(ratios[ratios.len() / 2])
        };
        if let Some(r) = ratio("REST (HTTP/1.1 JSON)", "gRPC (HTTP/2)") {
            println!("  ratio REST / gRPC                      {r:.2}   (goal >= 0.7)");
        }
        if let Some(r) = ratio("gRPC through the edge", "gRPC to the customer process") {
            println!("  ratio through the edge / direct        {r:.2}   (goal >= 0.6)");
        }
        if let Some(r) = ratio("gRPC, limits on (memory)", "gRPC (HTTP/2)") {
            println!("  ratio limits on / off, memory          {r:.2}   (goal >= 0.95; two servers, taking turns)");
        }
        match ratio("gRPC, Redis, limits on", "gRPC, Redis, limits off") {
            Some(r) => println!("  ratio limits on / off, Redis           {r:.2}   (goal >= 0.95; two servers, taking turns)"),
            None => println!("  limits in Redis: not measured (REDIS_URL is not set)"),
        }
    });
}
