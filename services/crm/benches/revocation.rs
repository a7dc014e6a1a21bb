//! `just bench`: what checking revocation marks costs on the read path. Every authenticated call
//! asks whether its token was revoked; this measures that check alone (memory marks, and Redis
//! marks when `REDIS_URL` is set) and an authenticated read (GetUser) through the whole server in
//! the same run, and prints the check's share of the call. Prints figures, never fails on a time.

use std::time::Duration;

use crm_core::testing::p50_p99;

use crm_core::UserId;
use crm_core::revocation::Revocations;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::user_service_client::UserServiceClient;
use crm_proto::crm::iam::v1::{GetUserRequest, RegisterRequest};

const CHECKS: usize = 20_000;
const CALLS: usize = 3_000;
const MARKS: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// The check alone, against a store holding `MARKS` marks.
async fn check_cost(marks: &Revocations) -> (Duration, Duration) {
    let users: Vec<UserId> = (0..MARKS).map(|_| UserId::new()).collect();
    for user in &users {
        marks
            .revoke(*user, 1_000, Duration::from_secs(900))
            .await
            .unwrap();
    }
    p50_p99(CHECKS, |i| {
        let user = users[i % users.len()];
        async move {
            assert!(!marks.is_revoked(user, 2_000).await.unwrap());
        }
    })
    .await
}

/// GetUser of oneself through a served CRM (embedded; Redis marks when `redis_url` is given).
async fn get_user_cost(redis_url: Option<&str>) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crm_core::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..crm_core::Config::default()
    };
    config.redis.url = redis_url.map(|u| crm_core::config::Secret::new(u.to_owned()));
    crm_iam::config::IamConfig {
        throttle_key_prefix: format!("crm:bench:{}:", uuid::Uuid::now_v7().simple()),
        ..Default::default()
    }
    .set(&mut config);
    let app = crm::Application::build(config).await.unwrap();
    let addr = app.local_addr();
    tokio::spawn(app.run_until(std::future::pending()));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let session = AuthServiceClient::new(channel.clone())
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Bench".into(),
            email: "bench@kilang.example".into(),
            password: "batik canting motif".into(),
            display_name: "Bench".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let id = session.user.unwrap().id;
    let bearer = format!("Bearer {}", session.access_token);
    let client = UserServiceClient::new(channel);
    p50_p99(CALLS, |_| {
        let mut client = client.clone();
        let mut request = tonic::Request::new(GetUserRequest { id: id.clone() });
        request
            .metadata_mut()
            .insert("authorization", bearer.parse().unwrap());
        async move {
            client.get_user(request).await.unwrap();
        }
    })
    .await
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn run() {
    println!(
        "revocation check on the read path ({CHECKS} checks over {MARKS} marks; {CALLS} sequential GetUser calls)"
    );
    let (call_p50, call_p99) = get_user_cost(None).await;
    println!(
        "  GetUser, embedded (memory marks)   p50 {:>8.1} µs   p99 {:>8.1} µs",
        micros(call_p50),
        micros(call_p99)
    );
    let (mem_p50, mem_p99) = check_cost(&Revocations::memory()).await;
    println!(
        "  check alone, memory                p50 {:>8.3} µs   p99 {:>8.3} µs   share of a GetUser p50: {:.4}",
        micros(mem_p50),
        micros(mem_p99),
        mem_p50.as_secs_f64() / call_p50.as_secs_f64()
    );
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let marks = Revocations::redis(
                &url,
                &format!("crm:bench:{}:", uuid::Uuid::now_v7().simple()),
            )
            .await
            .unwrap();
            let (redis_p50, redis_p99) = check_cost(&marks).await;
            println!(
                "  check alone, Redis                 p50 {:>8.1} µs   p99 {:>8.1} µs   share of a GetUser p50: {:.2}",
                micros(redis_p50),
                micros(redis_p99),
                redis_p50.as_secs_f64() / call_p50.as_secs_f64()
            );
            let (with_p50, with_p99) = get_user_cost(Some(&url)).await;
            println!(
                "  GetUser, Redis marks               p50 {:>8.1} µs   p99 {:>8.1} µs   ratio to memory marks: {:.2}",
                micros(with_p50),
                micros(with_p99),
                with_p50.as_secs_f64() / call_p50.as_secs_f64()
            );
        }
        Err(_) => println!("  Redis: not measured (REDIS_URL is not set)"),
    }
}
