//! `just bench`: login throughput over gRPC against a real `crm serve` process, divided by raw
//! argon2id verification throughput at the same parameters on the same cores, measured in the
//! same run; and the server's peak RSS under 200 concurrent logins. Prints figures, never fails
//! on a time.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use argon2::PasswordHasher;
use crm_core::testing::percentile;
use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
use crm_proto::crm::iam::v1::{LoginRequest, RegisterRequest};
use tonic::transport::Channel;

const PASSWORD: &str = "batik canting motif";
const CONCURRENCY: usize = 200;
const LOGINS: usize = 600;
const RAW_VERIFIES: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

/// Verifications per second of bare argon2id at the service's parameters: one thread per core,
/// each reusing its memory (the fastest argon2 gets here), with nothing else to do.
fn raw_argon2_per_second(threads: usize) -> f64 {
    let phc = crm_iam::infrastructure::hasher::argon2()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut blocks = Vec::new();
                for _ in 0..RAW_VERIFIES / threads {
                    let ok = crm_iam::infrastructure::hasher::verify_in(
                        &mut blocks,
                        PASSWORD.as_bytes(),
                        &phc,
                    );
                    assert_eq!(ok, Ok(true));
                }
            });
        }
    });
    (RAW_VERIFIES / threads * threads) as f64 / started.elapsed().as_secs_f64()
}

async fn run() {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_crm"))
        // Throughput is measured unthrottled; `just bench` times the limiter apart.
        .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
        .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
        .args([
            "serve",
            "--target",
            "iam",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env("CRM_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut auth = AuthServiceClient::new(channel.clone());
    let registered = auth
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: "Bench Batik".into(),
            email: "bench@kilang.example".into(),
            password: PASSWORD.into(),
            display_name: "Bench".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let slug = registered.tenant.unwrap().slug;
    let rss_idle = peak_rss_mib(server.id());

    // Logins: 200 clients at once, each taking logins from a shared counter.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (channel, slug, next) = (channel.clone(), slug.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut auth = AuthServiceClient::new(channel);
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < LOGINS {
                let t = Instant::now();
                auth.login(LoginRequest {
                    tenant: slug.clone(),
                    email: "bench@kilang.example".into(),
                    password: PASSWORD.into(),
                })
                .await
                .expect("login");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let login_rate = LOGINS as f64 / started.elapsed().as_secs_f64();
    let rss_peak = peak_rss_mib(server.id());
    latencies.sort();

    let raw_rate = raw_argon2_per_second(threads);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    println!(
        "login benchmark (argon2id m=19456 KiB, t=2, p=1; {threads} cores; {LOGINS} logins, {CONCURRENCY} concurrent)"
    );
    println!("  login throughput          {login_rate:8.1} logins/s");
    println!(
        "  raw argon2id verify       {raw_rate:8.1} verifies/s ({threads} threads, same parameters, same run)"
    );
    println!(
        "  ratio login / raw         {:8.2}   (goal >= 0.90)",
        login_rate / raw_rate
    );
    println!(
        "  login latency             p50 {:?}  p99 {:?}  max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!(
        "  server peak RSS           {rss_peak:8.1} MiB under {CONCURRENCY} concurrent logins (idle {rss_idle:.1} MiB; goal < 1024 MiB)"
    );
}
