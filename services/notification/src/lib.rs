//! Notifications: email, SMS and in-app, rendered from templates, delivered with retry, backoff
//! and circuit breaking, driven by domain events.
//!
//! Status: the contracts (`crm.notification.v1`) are final; the service is not built yet, so
//! every method answers `UNIMPLEMENTED` and says so.

use crm_core::grpc::ServiceSet;

const CAPABILITY: &str = "notifications (email, SMS, in-app, templates) are still being built";

/// Adds the notification context's services to a server.
pub fn register(services: &mut ServiceSet) {
    for name in crm_proto::services::NOTIFICATION {
        services.add_unavailable(name, CAPABILITY);
    }
}
