//! Stopping: the signals that ask for it, and what the process does first (NOT_SERVING, so
//! balancers stop sending calls, then the server drains).

use std::future::Future;

use anyhow::Context as _;

use tonic_health::ServingStatus;

use crate::health::Statuses as HealthReporter;

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Waits for `shutdown`, marks the process NOT_SERVING (so balancers stop sending calls) and
/// tells the server to drain.
pub(crate) async fn announce_shutdown(
    shutdown: impl Future<Output = ()>,
    health: HealthReporter,
    stop: tokio::sync::watch::Sender<bool>,
) {
    shutdown.await;
    tracing::info!("shutting down: draining in-flight calls");
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let _ = stop.send(true);
}

/// Serves until the server has drained (or the grace period after a stop has passed) while the
/// background tasks run. When supervision gives up on a task, every service goes `NOT_SERVING`
/// and the process stops as on a signal; the task that failed comes back.
pub(crate) async fn run_supervised(
    serve: impl Future<Output = Result<(), tonic::transport::Error>>,
    drained: impl Future<Output = ()>,
    supervised: impl Future<Output = crm_core::supervise::GaveUp>,
    health: &HealthReporter,
    gave_up: &tokio::sync::Notify,
) -> (anyhow::Result<()>, Option<crm_core::supervise::GaveUp>) {
    let mut failed = None;
    tokio::pin!(serve, drained, supervised);
    let served = loop {
        tokio::select! {
            result = &mut serve => break result.context("the server failed"),
            () = &mut drained => {
                tracing::warn!("calls still running after the grace period were dropped");
                break Ok(());
            }
            failure = &mut supervised, if failed.is_none() => {
                tracing::error!(task = %failure.task, "{failure}: stopping the process so that it is started again");
                health.set_all(ServingStatus::NotServing).await;
                gave_up.notify_one();
                failed = Some(failure);
            }
        }
    };
    (served, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::ServingStatus;

    #[tokio::test]
    async fn giving_up_on_a_task_turns_every_service_not_serving_and_stops_the_server() {
        let health = HealthReporter::default();
        for name in ["", "crm.iam.v1.AuthService", "breaker:sales.customer"] {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let gave_up = tokio::sync::Notify::new();
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        // The server serves until it is told to stop, as `announce_shutdown` tells it.
        let serve = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
            Ok(())
        };
        let failure = crm_core::supervise::GaveUp {
            task: "relay crm.iam.events.v1".into(),
            failures: 5,
            last: "ended".into(),
        };
        let supervised = std::future::ready(failure.clone());
        let stopper = async {
            gave_up.notified().await;
            let _ = stop_tx.send(true);
            std::future::pending::<()>().await
        };
        let (served, failed) = tokio::select! {
            done = run_supervised(serve, std::future::pending(), supervised, &health, &gave_up) => done,
            () = stopper => unreachable!(),
        };
        assert!(served.is_ok());
        assert_eq!(failed, Some(failure));
        for name in ["", "crm.iam.v1.AuthService", "breaker:sales.customer"] {
            assert_eq!(
                health.status(name).await,
                Some(crm_proto::grpc::health::v1::health_check_response::ServingStatus::NotServing),
                "{name}"
            );
        }
    }
}
