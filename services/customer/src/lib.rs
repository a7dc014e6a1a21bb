//! Customers: individuals and businesses with contacts, addresses, phones, emails, social
//! profiles, tags and custom fields; unique email per tenant; search; bulk import and export.
//!
//! Status: the contracts (`crm.customer.v1`) are final; the service is not built yet, so every
//! method answers `UNIMPLEMENTED` and says so.

pub mod domain;
pub mod infrastructure;

/// The customer context's embedded migrations.
pub static MIGRATIONS: crm_core::storage::Migrations = crm_core::storage::Migrations {
    sqlite: sqlx::migrate!("../../migrations/customer/sqlite"),
    postgres: sqlx::migrate!("../../migrations/customer/postgres"),
};

use crm_core::bounded::{BoundedContext, Started, Startup, placeholder};
use crm_core::config::Target;
use futures::future::BoxFuture;

const CAPABILITY: &str =
    "customer management (customers, contacts, search, import, export) is still being built";

/// The customer context, for the launcher's list. Its store is opened (the file exists) though it
/// has no tables yet.
pub static CONTEXT: BoundedContext = BoundedContext {
    target: Target::Customer,
    has_store: true,
    topic: Some("crm.customer.events.v1"),
    migrations: None,
    config: None,
    start,
};

fn start(_: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async { Ok(placeholder(crm_proto::services::CUSTOMER, CAPABILITY)) })
}
