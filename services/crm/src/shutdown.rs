//! Stopping: the signals that ask for it, and what the process does first (NOT_SERVING, so
//! balancers stop sending calls, then the server drains).

use std::future::Future;

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
