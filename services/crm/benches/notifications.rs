//! `just bench`: notifications against a real `crm serve` process (release, embedded SQLite),
//! every figure beside a baseline measured in the same run:
//!
//! - email, end to end: `UserCreated` events committed to IAM's outbox (as IAM commits them:
//!   the embedded bus reads the outbox), consumed, stored, rendered and sent over SMTP to a
//!   real local SMTP server (aiosmtpd from PyPI, with a handler that stamps each accepted
//!   message). Notifications/s for a burst, divided by the SMTP server's own rate (the same
//!   number of messages sent straight to it with `lettre`, as many at once as the worker
//!   sends); then p50/p95/p99 from each event's commit to its acceptance at a steady 50/s.
//! - in-app: 1,000 concurrent `WatchNotifications` streams (100 users: 10 sales managers and
//!   90 reps, 10 streams each); leads created at 20/s, each owned by a rep, so each reaches
//!   the 10 managers' and its owner's streams (110 streams). p50/p95/p99 from the start of the
//!   `CreateLead` call (its commit is inside it) to the arrival on each stream, beside the
//!   `CreateLead` call itself; every arrival is counted. The server's RSS before and with the
//!   watchers.
//!
//! `NOTIFICATIONS_BENCH_EMAILS` sets the burst (default 2,000). Prints figures, never fails on
//! a time. Needs `python3` with aiosmtpd (`bash .ci/services.sh up` installs it under the cache
//! directory; `AIOSMTPD_PYTHONPATH` points there).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use crm_core::testing::percentile;
use crm_proto::crm::notification::v1::notification_service_client::NotificationServiceClient;
use crm_proto::crm::notification::v1::{ListNotificationsRequest, WatchNotificationsRequest};
use crm_proto::crm::sales::v1::lead_service_client::LeadServiceClient;
use crm_proto::crm::sales::v1::{CreateLeadRequest, Lead};
use support::{Server, authorized, connect, mib, register, serve, status_kib, user};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(what: &str, samples: &[Duration]) {
    println!(
        "  {what:<40} p50 {:7.1} ms   p95 {:7.1} ms   p99 {:7.1} ms   ({} samples)",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.95)),
        ms(percentile(samples, 0.99)),
        samples.len()
    );
}

/// Microseconds since the epoch (the SMTP server stamps with the same clock).
fn epoch_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// aiosmtpd with a handler that accepts every message and prints `<epoch µs> <recipient>`.
const SINK: &str = r#"
import sys, time, threading
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        sys.stdout.write(f"{time.time_ns() // 1000} {envelope.rcpt_tos[0]}\n")
        sys.stdout.flush()
        return "250 Message accepted"
class Shared(Controller):
    # Several processes on one port (SO_REUSEPORT): the kernel spreads the connections.
    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, host=self.hostname,
                                       port=self.port, reuse_port=True)
controller = Shared(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// The SMTP server (`processes` aiosmtpd processes sharing one port: one is a single Python
/// thread), and when it accepted a message for each recipient.
struct SmtpSink {
    port: u16,
    accepted: Arc<Mutex<HashMap<String, i64>>>,
    _children: Vec<Server>,
}

impl SmtpSink {
    fn start(processes: usize) -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = std::env::var("AIOSMTPD_PYTHONPATH")
            .unwrap_or_else(|_| format!("{}/.cache/kilang-crm/py", std::env::var("HOME").unwrap()));
        let accepted = Arc::new(Mutex::new(HashMap::new()));
        let mut children = Vec::new();
        for _ in 0..processes {
            let mut child = Command::new("python3")
                .args(["-c", SINK, &port.to_string()])
                .env("PYTHONPATH", &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 runs aiosmtpd (`bash .ci/services.sh up` installs it)");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let ready = lines.next().and_then(|l| l.ok()).unwrap_or_default();
            assert_eq!(ready, "ready", "aiosmtpd did not start");
            let sink = accepted.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    if let Some((at, to)) = line.split_once(' ') {
                        let at: i64 = at.parse().unwrap_or_default();
                        sink.lock().unwrap().insert(to.to_owned(), at);
                    }
                }
            });
            children.push(Server(Some(child)));
        }
        SmtpSink {
            port,
            accepted,
            _children: children,
        }
    }

    fn at(&self, to: &str) -> Option<i64> {
        self.accepted.lock().unwrap().get(to).copied()
    }

    /// Waits until every one of `to` is accepted (10 minutes at most), then their times.
    async fn all(&self, to: &[String]) -> Vec<i64> {
        let started = Instant::now();
        loop {
            let times: Vec<Option<i64>> = to.iter().map(|t| self.at(t)).collect();
            if times.iter().all(Option::is_some) {
                return times.into_iter().flatten().collect();
            }
            let missing = times.iter().filter(|t| t.is_none()).count();
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "{missing} of {} messages never reached the SMTP server",
                to.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn crm(data_dir: &std::path::Path, env: &[(&str, String)]) -> (Server, String) {
    serve(
        Command::new(env!("CARGO_BIN_EXE_crm"))
            // Throughput is measured unthrottled; `just bench` times the limiter apart.
            .env("CRM_RATE_LIMIT__TENANT_PER_MINUTE", "0")
            .env("CRM_RATE_LIMIT__SUBJECT_PER_MINUTE", "0")
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("KAFKA_BROKERS")
            .env_remove("MONGODB_URL")
            .envs(env.iter().map(|(k, v)| (k, v))),
    )
}

fn pid(server: &Server) -> u32 {
    server.0.as_ref().unwrap().id()
}

/// Commits one `UserCreated` per address to IAM's outbox, `per_commit` to a transaction; when
/// each was committed (µs since the epoch).
async fn commit_users(
    iam: &crm_core::storage::Database,
    tenant: &str,
    to: &[String],
    per_commit: usize,
) -> Vec<i64> {
    let mut committed = Vec::with_capacity(to.len());
    for chunk in to.chunks(per_commit) {
        let mut tx = iam.begin().await.unwrap();
        for email in chunk {
            let user = uuid::Uuid::now_v7().to_string();
            let created = crm_proto::crm::iam::events::v1::UserCreated {
                user_id: user.clone(),
                email: email.clone(),
                display_name: "Pelanggan Batik".into(),
                roles: vec!["viewer".into()],
                tenant_name: "Kilang Bench".into(),
                ..Default::default()
            };
            let event = crm_events::Envelope::new(
                "crm.iam",
                tenant,
                &user,
                &created,
                &crm_events::Causation::default(),
            );
            crm_events::outbox::append(&mut tx, "user", &event)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let at = epoch_micros();
        committed.extend(chunk.iter().map(|_| at));
    }
    committed
}

/// Messages/s of `n` messages sent straight to the SMTP server, `concurrency` at once.
async fn raw_smtp(port: u16, n: usize, concurrency: usize) -> f64 {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
    let transport = Arc::new(transport);
    support::rate(concurrency, n, move |i| {
        let transport = transport.clone();
        async move {
            let message = Message::builder()
                .from("Kilang CRM <no-reply@localhost>".parse().unwrap())
                .to(format!("raw{i}@bench.example").parse().unwrap())
                .subject("Selamat datang ke Kilang Bench")
                .multipart(lettre::message::MultiPart::alternative_plain_html(
                    "Salam Pelanggan Batik,\n\nAkaun telah dibuka untuk anda.".to_string(),
                    "<p>Salam Pelanggan Batik,</p><p>Akaun telah dibuka untuk anda.</p>"
                        .to_string(),
                ))
                .unwrap();
            transport.send(message).await.unwrap();
        }
    })
    .await
}

async fn email(n: usize) {
    let processes: usize = std::env::var("NOTIFICATIONS_BENCH_SMTP_PROCESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let smtp = SmtpSink::start(processes);
    let data_dir = tempfile::tempdir().unwrap();
    let (server, addr) = crm(
        data_dir.path(),
        &[(
            "CRM_NOTIFICATION__SMTP_URL",
            format!("smtp://127.0.0.1:{}", smtp.port),
        )],
    );
    let (_, tenant, _) = register(&addr, "Kilang Bench", "owner@bench.example").await;
    // The owner's welcome: the tenant's templates are seeded and the pipeline is warm.
    smtp.all(&["owner@bench.example".to_string()]).await;
    let config = crm_core::config::Config {
        data_dir: data_dir.path().to_path_buf(),
        ..Default::default()
    };
    let iam = crm_core::storage::Database::open(&config, "iam")
        .await
        .unwrap();

    // The SMTP server's own rate, as many at once as the worker sends (32).
    let raw = raw_smtp(smtp.port, n, 32).await;

    // A burst: every event committed at once (50 to a transaction), then sent.
    let burst: Vec<String> = (0..n).map(|i| format!("burst{i}@bench.example")).collect();
    let first = epoch_micros();
    commit_users(&iam, &tenant, &burst, 50).await;
    let committed = epoch_micros();
    let accepted = smtp.all(&burst).await;
    let last = accepted.iter().copied().max().unwrap();
    let end_to_end = n as f64 / ((last - first) as f64 / 1e6);
    println!(
        "email: {n} UserCreated committed in {:.0} ms, all welcomes accepted by the SMTP server after {:.0} ms",
        (committed - first) as f64 / 1000.0,
        (last - first) as f64 / 1000.0
    );
    println!("  (the SMTP server: {processes} aiosmtpd processes on one port)");
    println!(
        "  end to end {end_to_end:8.0} notifications/s   SMTP server alone {raw:8.0} messages/s   ratio {:.2}   (goal >= 500/s)",
        end_to_end / raw
    );

    let own = log_sink(n).await;
    println!("  the same burst to the log sink (no SMTP server): {own:8.0} notifications/s");

    // Steady: one event a commit, 50 a second; commit to acceptance.
    let steady: Vec<String> = (0..500)
        .map(|i| format!("steady{i}@bench.example"))
        .collect();
    let mut committed = Vec::with_capacity(steady.len());
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for to in steady.chunks(1) {
        tick.tick().await;
        committed.extend(commit_users(&iam, &tenant, to, 1).await);
    }
    let accepted = smtp.all(&steady).await;
    let mut took: Vec<Duration> = committed
        .iter()
        .zip(&accepted)
        .map(|(c, a)| Duration::from_micros((a - c).max(0) as u64))
        .collect();
    took.sort();
    line("commit -> SMTP acceptance at 50/s", &took);
    println!(
        "  server RSS {:.1} MiB (peak {:.1} MiB)",
        mib(status_kib(pid(&server), "VmRSS:")),
        mib(status_kib(pid(&server), "VmHWM:"))
    );
    iam.close().await;
    drop(server);
}

/// The CRM's own rate, without an SMTP server: the same burst to the log sink (nothing
/// configured), counted as sent in the notification store.
async fn log_sink(n: usize) -> f64 {
    let data_dir = tempfile::tempdir().unwrap();
    let (server, addr) = crm(data_dir.path(), &[]);
    let (_, tenant, _) = register(&addr, "Kilang Bench", "owner@bench.example").await;
    let config = crm_core::config::Config {
        data_dir: data_dir.path().to_path_buf(),
        ..Default::default()
    };
    let notification = crm_core::storage::Database::open(&config, "notification")
        .await
        .unwrap();
    let sent = async || -> i64 {
        sqlx::query_scalar("select count(*) from notifications where status = 'sent'")
            .fetch_one(notification.pool())
            .await
            .unwrap()
    };
    while sent().await < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let iam = crm_core::storage::Database::open(&config, "iam")
        .await
        .unwrap();
    let burst: Vec<String> = (0..n).map(|i| format!("log{i}@bench.example")).collect();
    let started = Instant::now();
    commit_users(&iam, &tenant, &burst, 50).await;
    while sent().await < n as i64 + 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    iam.close().await;
    notification.close().await;
    drop(server);
    rate
}

async fn in_app() {
    const MANAGERS: usize = 10;
    const REPS: usize = 90;
    const STREAMS: usize = 10;
    const LEADS: usize = 200;
    let data_dir = tempfile::tempdir().unwrap();
    let (server, addr) = crm(data_dir.path(), &[]);
    let (owner, _, slug) = register(&addr, "Kilang Watch", "owner@watch.example").await;
    let mut people = Vec::new();
    for i in 0..MANAGERS + REPS {
        let (email, role) = if i < MANAGERS {
            (format!("manager{i}@watch.example"), "sales_manager")
        } else {
            (format!("rep{i}@watch.example"), "sales_rep")
        };
        people.push(user(&addr, &owner, &slug, &email, &[role]).await);
    }
    // Notification knows every user once the last one's welcome is stored.
    let (_, last_token) = people.last().unwrap().clone();
    let channel = connect(&addr).await;
    loop {
        let known = NotificationServiceClient::new(channel.clone())
            .list_notifications(authorized(ListNotificationsRequest::default(), &last_token))
            .await
            .unwrap()
            .into_inner()
            .notifications;
        if !known.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_before = status_kib(pid(&server), "VmRSS:");

    // 1,000 watchers over 10 connections; each arrival is stamped with the lead's number.
    let connections: Vec<_> = futures::future::join_all((0..10).map(|_| connect(&addr))).await;
    let arrivals: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let mut watching = Vec::new();
    for (u, (_, token)) in people.iter().enumerate() {
        for s in 0..STREAMS {
            let channel = connections[(u * STREAMS + s) % connections.len()].clone();
            let mut stream = NotificationServiceClient::new(channel)
                .watch_notifications(authorized(
                    WatchNotificationsRequest {
                        include_unread: false,
                    },
                    token,
                ))
                .await
                .unwrap()
                .into_inner();
            let arrivals = arrivals.clone();
            watching.push(tokio::spawn(async move {
                while let Ok(Some(message)) = stream.message().await {
                    let at = Instant::now();
                    let Some(n) = message.notification else {
                        continue;
                    };
                    let number = n
                        .subject
                        .split("BenchLead")
                        .nth(1)
                        .and_then(|rest| rest.split('x').next())
                        .and_then(|d| d.parse().ok());
                    if let Some(number) = number {
                        arrivals.lock().unwrap().push((number, at));
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_watching = status_kib(pid(&server), "VmRSS:");

    let leads = LeadServiceClient::new(channel.clone());
    let lead = |name: String, owner_id: &str| CreateLeadRequest {
        lead: Some(Lead {
            contact_name: name.clone(),
            company_name: "Butik Seri".into(),
            email: format!("{}@butik.example", name.to_lowercase()),
            owner_id: owner_id.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // Sales learns the reps from IAM's events too: a first lead, not timed, once it knows the
    // last one.
    let last_rep = &people.last().unwrap().0;
    while leads
        .clone()
        .create_lead(authorized(lead("Warmup".into(), last_rep), &owner))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut started = Vec::with_capacity(LEADS);
    let mut calls = Vec::with_capacity(LEADS);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for i in 0..LEADS {
        tick.tick().await;
        let request = lead(format!("BenchLead{i}x"), &people[MANAGERS + i % REPS].0);
        let start = Instant::now();
        started.push(start);
        leads
            .clone()
            .create_lead(authorized(request, &owner))
            .await
            .unwrap();
        calls.push(start.elapsed());
    }
    let expected = LEADS * (MANAGERS + 1) * STREAMS;
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap().len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let mut took: Vec<Duration> = arrivals
        .iter()
        .map(|(n, at)| at.saturating_duration_since(started[*n]))
        .collect();
    took.sort();
    calls.sort();
    println!(
        "in-app: {} watching streams ({} users x {STREAMS}), {LEADS} leads at 20/s, each to {} streams",
        people.len() * STREAMS,
        people.len(),
        (MANAGERS + 1) * STREAMS
    );
    line("CreateLead call -> arrival on a stream", &took);
    line("CreateLead call alone (baseline)", &calls);
    println!(
        "  arrivals {} of {expected}; server RSS {:.1} MiB before the watchers, {:.1} MiB with them (+{:.1} MiB)",
        arrivals.len(),
        mib(rss_before),
        mib(rss_watching),
        mib(rss_watching - rss_before)
    );
    for task in watching {
        task.abort();
    }
    drop(server);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n: usize = std::env::var("NOTIFICATIONS_BENCH_EMAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    runtime.block_on(async {
        println!("notifications benchmark (release, embedded SQLite, crm serve as a process)");
        email(n).await;
        in_app().await;
    });
}
