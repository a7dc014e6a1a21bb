//! The gRPC health service every process serves (`grpc.health.v1.Health`: Check, List and
//! Watch, from the statuses the launcher sets), and `crm health`, which asks a running CRM's,
//! for container health checks and probes (the image needs no `grpc_health_probe`).

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

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use crm_proto::grpc::health::v1 as pb;
use tokio::sync::{RwLock, watch};
use tokio_stream::{Stream, StreamExt as _};

/// What `List` answers at most, as the protocol sets.
const LIST_LIMIT: usize = 100;

type Channels =
    Arc<RwLock<BTreeMap<String, watch::Sender<pb::health_check_response::ServingStatus>>>>;

/// The statuses the health service answers; the launcher sets them.
#[derive(Clone, Default)]
pub struct Statuses {
    channels: Channels,
}

impl Statuses {
    /// Sets `service`'s status ("" for the process), telling its watchers when it changes.
    pub async fn set_service_status(
        &self,
        service: impl AsRef<str>,
        status: tonic_health::ServingStatus,
    ) {
        use pb::health_check_response::ServingStatus as Answer;
        let status = match status {
            tonic_health::ServingStatus::Serving => Answer::Serving,
            tonic_health::ServingStatus::NotServing => Answer::NotServing,
            tonic_health::ServingStatus::Unknown => Answer::Unknown,
        };
        let mut channels = self.channels.write().await;
        match channels.get(service.as_ref()) {
            Some(sender) => {
                sender.send_if_modified(|now| std::mem::replace(now, status) != status);
            }
            None => {
                channels.insert(service.as_ref().to_owned(), watch::channel(status).0);
            }
        }
    }

    /// Sets every status set so far (the process's and each service's) to `status`.
    pub async fn set_all(&self, status: tonic_health::ServingStatus) {
        let names: Vec<String> = self.channels.read().await.keys().cloned().collect();
        for name in names {
            self.set_service_status(name, status).await;
        }
    }

    /// The status set for `service`, if any.
    #[cfg(test)]
    pub(crate) async fn status(
        &self,
        service: &str,
    ) -> Option<pb::health_check_response::ServingStatus> {
        self.channels
            .read()
            .await
            .get(service)
            .map(|sender| *sender.borrow())
    }

    /// The health service answering from these statuses.
    pub fn service(&self) -> pb::health_server::HealthServer<HealthService> {
        pb::health_server::HealthServer::new(HealthService {
            channels: self.channels.clone(),
        })
    }
}

/// `grpc.health.v1.Health` over [`Statuses`].
pub struct HealthService {
    channels: Channels,
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::HealthCheckResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl pb::health_server::Health for HealthService {
    async fn check(
        &self,
        request: tonic::Request<pb::HealthCheckRequest>,
    ) -> Result<tonic::Response<pb::HealthCheckResponse>, tonic::Status> {
        let service = &request.get_ref().service;
        match self.channels.read().await.get(service) {
            Some(sender) => Ok(tonic::Response::new(pb::HealthCheckResponse {
                status: *sender.borrow() as i32,
            })),
            None => Err(tonic::Status::not_found(format!(
                "no service named `{service}` here; List names the ones there are"
            ))),
        }
    }

    async fn list(
        &self,
        _request: tonic::Request<pb::HealthListRequest>,
    ) -> Result<tonic::Response<pb::HealthListResponse>, tonic::Status> {
        let channels = self.channels.read().await;
        if channels.len() > LIST_LIMIT {
            return Err(tonic::Status::resource_exhausted(format!(
                "{} services, more than the {LIST_LIMIT} List may answer; Check them by name",
                channels.len()
            )));
        }
        let statuses = channels
            .iter()
            .map(|(name, sender)| {
                (
                    name.clone(),
                    pb::HealthCheckResponse {
                        status: *sender.borrow() as i32,
                    },
                )
            })
            .collect();
        Ok(tonic::Response::new(pb::HealthListResponse { statuses }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: tonic::Request<pb::HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        use pb::health_check_response::ServingStatus as Answer;
        let service = request.into_inner().service;
        let receiver = self
            .channels
            .read()
            .await
            .get(&service)
            .map(watch::Sender::subscribe);
        let stream: WatchStream = match receiver {
            // The status now, then each change.
            Some(receiver) => Box::pin(tokio_stream::wrappers::WatchStream::new(receiver).map(
                |status| {
                    Ok(pb::HealthCheckResponse {
                        status: status as i32,
                    })
                },
            )),
            // Services are set when the process starts, so one unknown now stays unknown: say
            // so, and keep the call open as the protocol asks (it ends at shutdown). Nothing is
            // stored for it, so watching made-up names costs the server nothing.
            None => Box::pin(
                tokio_stream::once(Ok(pb::HealthCheckResponse {
                    status: Answer::ServiceUnknown as i32,
                }))
                .chain(tokio_stream::pending()),
            ),
        };
        Ok(tonic::Response::new(stream))
    }
}
