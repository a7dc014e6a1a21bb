//! Notifications: email, SMS and in-app, rendered from templates, delivered with retry, backoff
//! and circuit breaking, driven by domain events.
//!
//! Status: the contracts (`crm.notification.v1`) are final; the service is not built yet, so
//! every method answers `UNIMPLEMENTED` and says so.

use crm_core::bounded::{BoundedContext, Started, Startup, placeholder};
use crm_core::config::Target;
use futures::future::BoxFuture;

const CAPABILITY: &str = "notifications (email, SMS, in-app, templates) are still being built";

/// The notification context, for the launcher's list. Its store is opened (the file exists) though it
/// has no tables yet.
pub static CONTEXT: BoundedContext = BoundedContext {
    target: Target::Notification,
    has_store: true,
    topic: Some("crm.notification.events.v1"),
    migrations: None,
    config: None,
    start,
};

fn start(_: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async { Ok(placeholder(crm_proto::services::NOTIFICATION, CAPABILITY)) })
}
