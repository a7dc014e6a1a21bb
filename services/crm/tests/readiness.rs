//! Readiness follows the stores: a CRM whose PostgreSQL stops answering turns NOT_SERVING (so a
//! balancer sends its calls elsewhere), and SERVING again once the database is back. And a
//! background task that stops is started again; one that keeps stopping takes the process out.

use crate::support;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A TCP relay to PostgreSQL that the test can cut (every connection dropped, nothing accepted)
/// and restore on the same port: the database as the CRM sees it going away and coming back.
struct Relay {
    addr: SocketAddr,
    to: SocketAddr,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(listen: SocketAddr, to: SocketAddr) -> Relay {
        let listener = TcpListener::bind(listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let running = tokio::spawn(async move {
            // Dropped with the task: every open connection ends with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay {
            addr,
            to,
            running: Some(running),
        }
    }

    fn cut(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
    }

    async fn restore(&mut self) {
        // The aborted task's listener is gone once it has been dropped: retry the bind briefly.
        let addr = self.addr;
        crm_core::testing::eventually("the relay's port is free again", async || {
            TcpListener::bind(addr).await.ok().map(drop)
        })
        .await;
        *self = Relay::start(self.addr, self.to).await;
    }
}

/// `postgres://user@host:port/db` → (the `host:port` part, its address).
async fn database_address(url: &str) -> (String, SocketAddr) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let host_port = rest.split(['/', '?']).next().unwrap().to_owned();
    let with_port = if host_port.contains(':') {
        host_port.clone()
    } else {
        format!("{host_port}:5432")
    };
    let addr = tokio::net::lookup_host(with_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    (host_port, addr)
}

async fn status(server: &support::TestServer, service: &str) -> i32 {
    HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Asks until `service` is `want` (the CRM checks its stores every 2 s).
async fn until(server: &support::TestServer, service: &str, want: ServingStatus) {
    let what = format!("`{service}` becomes {want:?}");
    crm_core::testing::eventually(&what, async || {
        (status(server, service).await == want as i32).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs DATABASE_URL (PostgreSQL): run with --include-ignored"]
async fn readiness_turns_not_serving_while_postgres_is_away_and_serving_when_it_is_back() {
    let database = crm_core::testing::backend("DATABASE_URL");
    let (host_port, postgres) = database_address(&database).await;
    let mut relay = Relay::start("127.0.0.1:0".parse().unwrap(), postgres).await;
    let through_relay = database.replacen(&host_port, &relay.addr.to_string(), 1);

    let mut config = crm_core::Config::default();
    config.target = vec![crm_core::config::Target::named("customer")];
    config.database.url = Some(crm_core::config::Secret::new(database.clone()));
    crm::migrate(&config).await.expect("crm migrate");
    let server = support::spawn_with(|config| {
        config.target = vec![crm_core::config::Target::named("customer")];
        config.database.url = Some(crm_core::config::Secret::new(through_relay));
    })
    .await;
    assert_eq!(status(&server, "").await, ServingStatus::Serving as i32);

    relay.cut();
    until(&server, "", ServingStatus::NotServing).await;
    assert_eq!(
        status(&server, "crm.customer.v1.CustomerService").await,
        ServingStatus::NotServing as i32
    );
    // Health itself still answers: only readiness changed.
    assert_eq!(
        status(&server, "grpc.health.v1.Health").await,
        ServingStatus::Serving as i32
    );

    relay.restore().await;
    until(&server, "", ServingStatus::Serving).await;
    assert_eq!(
        status(&server, "crm.customer.v1.CustomerService").await,
        ServingStatus::Serving as i32
    );
}

/// Supervision quick enough for a test: 20 ms between restarts, out after three stops in a row.
fn quick_supervision() -> crm_core::supervise::Policy {
    crm_core::supervise::Policy {
        first_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(20),
        healthy_after: std::time::Duration::from_secs(3600),
        give_up_after: 3,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_task_killed_while_serving_is_started_again_and_counted() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let runs = Arc::new(AtomicU32::new(0));
    let task = {
        let runs = runs.clone();
        crm_core::supervise::Task::new("test killed once", move || {
            let runs = runs.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("killed");
                }
                std::future::pending::<()>().await
            }
        })
    };
    let server = support::spawn_app(
        |_| {},
        |app| app.with_task(task).with_supervision(quick_supervision()),
    )
    .await;
    let line = crm_core::testing::eventually("the restart is on /metrics", || {
        let addr = server.addr;
        async move {
            support::scrape(addr)
                .await
                .lines()
                .find(|l| l.starts_with("crm_task_restarts_total{task=\"test killed once\"} 1"))
                .map(str::to_owned)
        }
    })
    .await;
    assert!(line.ends_with(" 1"), "{line}");
    // Started again after its delay (the restart counts when it is decided).
    crm_core::testing::eventually("the task runs again", || {
        let runs = runs.load(Ordering::SeqCst);
        async move { (runs >= 2).then_some(()) }
    })
    .await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "killed once, started once more"
    );
    // The contexts' own tasks and relays started with the process and never stopped.
    let scrape = support::scrape(server.addr).await;
    for task in [
        "relay crm.iam.events.v1",
        "notification deliveries",
        "watch stores",
    ] {
        assert!(
            scrape.contains(&format!("crm_task_restarts_total{{task=\"{task}\"}} 0")),
            "{task} is not shown at 0:\n{scrape}"
        );
    }
    assert_eq!(status(&server, "").await, ServingStatus::Serving as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_task_that_keeps_stopping_takes_the_process_out_naming_it() {
    let task = crm_core::supervise::Task::new("test always ends", || async {});
    let mut server = support::spawn_app(
        |_| {},
        |app| app.with_task(task).with_supervision(quick_supervision()),
    )
    .await;
    let run = server.run.take().expect("the server runs");
    let error = run
        .await
        .expect("run_until does not panic")
        .expect_err("the process stops with an error");
    let message = format!("{error:#}");
    assert!(
        message.contains("`test always ends` stopped 3 times in a row (last: ended)"),
        "{message}"
    );
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "the process no longer listens"
    );
}
