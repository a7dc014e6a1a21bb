//! Customers: individuals and businesses with contacts, addresses, phones, emails, social
//! profiles, tags and custom fields; one primary email per tenant; search; bulk import and
//! export.
//!
//! `domain/` holds the rules (the [`domain::customer::Customer`] aggregate), `application/` the
//! use cases and who may run them, `infrastructure/` the SQLite and PostgreSQL store, and
//! `interfaces/grpc/` the API.

pub mod application;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;

use anyhow::Context as _;
use crm_core::bounded::{BoundedContext, Started, Startup};
use crm_core::config::Target;
use crm_core::grpc::ServiceSet;
use crm_core::idempotency::Idempotency;
use crm_core::storage::{Database, Migrations};
use crm_proto::crm::customer::v1 as pb;
use futures::future::BoxFuture;

use crate::application::Customers;
use crate::infrastructure::sql::SqlCustomerStore;
use crate::interfaces::grpc::CustomerGrpc;

/// The customer context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/customer/sqlite"),
    postgres: sqlx::migrate!("../../migrations/customer/postgres"),
};

/// The customer context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    target: Target::Customer,
    has_store: true,
    topic: Some("crm.customer.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: None,
    start,
};

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup
            .db
            .context("customers need their store; it is opened for every context with has_store")?;
        let customers = build(db);
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, customers)),
            token_keys: None,
        })
    })
}

/// The customer service on a migrated database.
pub fn build(db: &Database) -> Customers {
    Customers::new(
        Arc::new(SqlCustomerStore::new(db.clone())),
        Arc::new(crm_core::clock::SystemClock),
        Idempotency::new(db.clone()),
    )
}

/// Adds the customer service to a server.
pub fn register(services: &mut ServiceSet, customers: Customers) {
    services.add(pb::customer_service_server::CustomerServiceServer::new(
        CustomerGrpc::new(customers),
    ));
}
