//! `crm health`: asks a running CRM's gRPC health service, for container health checks and
//! probes (the image needs no `grpc_health_probe`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
pub use tonic_health::pb::health_check_response::ServingStatus as Serving;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The address a process listening on `listen` is reached at from the same machine.
pub fn local_server(listen: SocketAddr) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_owned(),
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", listen.port())
}

/// The health of `service` ("" for the process) at `server`, answered within `timeout`.
pub async fn check(server: &str, service: &str, timeout: Duration) -> anyhow::Result<Serving> {
    let channel = tonic::transport::Endpoint::from_shared(server.to_owned())
        .with_context(|| format!("`{server}` is not an address: write http://host:port"))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("cannot connect to {server}; is the CRM running there?"))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await;
    match answer {
        Ok(answer) => Ok(Serving::try_from(answer.into_inner().status).unwrap_or(Serving::Unknown)),
        Err(status) if status.code() == tonic::Code::NotFound => {
            anyhow::bail!("{server} serves no service named `{service}`")
        }
        Err(status) => Err(anyhow::anyhow!(
            "{server} did not answer its health check: {}",
            status.message()
        )),
    }
}
