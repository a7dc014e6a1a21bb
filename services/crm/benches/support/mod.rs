//! What the benches share: server processes (the `crm` binary, the bare tonic echo baseline),
//! clients, the load loop, and the memory figures of a process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tonic::transport::Channel;

pub fn status_kib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

pub fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

/// A child process killed when dropped (a failed run leaves no server behind).
pub struct Server(pub Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.0.take() {
            stop(child);
        }
    }
}

/// A server process and the address it printed.
pub fn serve(command: &mut Command) -> (Server, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit(" on ").next().unwrap().to_owned();
    (Server(Some(child)), addr)
}

pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

pub async fn connect(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The password every bench user gets.
pub const PASSWORD: &str = "batik canting motif";

/// Registers a tenant on the CRM at `addr`: its owner's token, the tenant's id and slug.
pub async fn register(addr: &str, tenant: &str, email: &str) -> (String, String, String) {
    use crm_proto::crm::iam::v1::RegisterRequest;
    use crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient;
    let r = AuthServiceClient::new(connect(addr).await)
        .register(RegisterRequest {
            locale: String::new(),
            tenant_name: tenant.into(),
            email: email.into(),
            password: PASSWORD.into(),
            display_name: "Siti Aminah".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let registered = r.tenant.unwrap();
    (r.access_token, registered.id, registered.slug)
}

/// Creates a user with `roles` and signs them in: their id and token.
pub async fn user(
    addr: &str,
    owner: &str,
    slug: &str,
    email: &str,
    roles: &[&str],
) -> (String, String) {
    let channel = connect(addr).await;
    let user =
        crm_proto::crm::iam::v1::user_service_client::UserServiceClient::new(channel.clone())
            .create_user(authorized(
                crm_proto::crm::iam::v1::CreateUserRequest {
                    user: Some(crm_proto::crm::iam::v1::User {
                        email: email.into(),
                        display_name: email.split('@').next().unwrap().into(),
                        roles: roles.iter().map(|r| r.to_string()).collect(),
                        ..Default::default()
                    }),
                    password: PASSWORD.into(),
                    request_id: String::new(),
                },
                owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
    let token = crm_proto::crm::iam::v1::auth_service_client::AuthServiceClient::new(channel)
        .login(crm_proto::crm::iam::v1::LoginRequest {
            tenant: slug.into(),
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    (user.id, token)
}

pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The echo baseline's process: a plain tonic server with only the health service.
pub async fn echo_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("echo serving on {}", listener.local_addr().unwrap());
    let (_, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .unwrap();
}

/// Calls per second of `call` at `concurrency` concurrent streams, `calls` in all.
pub async fn rate<F, Fut>(concurrency: usize, calls: usize, call: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    timed(concurrency, calls, call).await.0
}

/// Calls per second of `call` at `concurrency` concurrent streams, `calls` in all, and every
/// call's latency, sorted.
pub async fn timed<F, Fut>(
    concurrency: usize,
    calls: usize,
    call: F,
) -> (f64, Vec<std::time::Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (call, next) = (call.clone(), next.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= calls {
                        break;
                    }
                    let one = Instant::now();
                    call(i).await;
                    took.push(one.elapsed());
                }
                took
            })
        })
        .collect();
    let mut took = Vec::with_capacity(calls);
    for t in tasks {
        took.extend(t.await.unwrap());
    }
    let rate = calls as f64 / started.elapsed().as_secs_f64();
    took.sort();
    (rate, took)
}
