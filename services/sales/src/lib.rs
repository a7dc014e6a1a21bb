//! Sales: pipelines and stages, leads (qualify, score, assign), conversion to opportunities (a
//! saga with compensation), stage moves, win to deal, lose with reason, analytics, forecast.
//!
//! `domain/` holds the rules, `application/` the use cases and who may run them,
//! `infrastructure/` the SQL store (SQLite and PostgreSQL) and the consumer of IAM's events,
//! `interfaces/grpc/` the API.
//!
//! Status: pipelines are served (`PipelineService`, but for analytics and forecast), and every
//! new tenant gets its default pipeline from IAM's `TenantCreated`; leads are served
//! (`LeadService`, but for conversion), with sales' own view of users from IAM's events.
//! Opportunities and deals are still being built: their services answer `UNIMPLEMENTED`.

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
use crm_proto::crm::sales::v1 as pb;
use futures::future::BoxFuture;

use crate::application::Sales;
use crate::infrastructure::consumer::{GROUP, IamEvents};
use crate::infrastructure::sql::SqlSalesStore;
use crate::interfaces::grpc::SalesGrpc;

const CAPABILITY: &str = "opportunities and deals are still being built";

/// The services still to come, answering `UNIMPLEMENTED`.
const NOT_BUILT: [&str; 2] = [
    "crm.sales.v1.OpportunityService",
    "crm.sales.v1.DealService",
];

/// The sales context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/sales/sqlite"),
    postgres: sqlx::migrate!("../../migrations/sales/postgres"),
};

/// The sales context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    target: Target::Sales,
    has_store: true,
    topic: Some("crm.sales.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: None,
    start,
};

/// The topic of the events sales consumes (IAM's).
pub const IAM_TOPIC: &str = "crm.iam.events.v1";

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup
            .db
            .context("sales needs its store; it is opened for every context with has_store")?;
        let sales = build(db);
        let consumer =
            crm_events::Consumer::new(GROUP, IamEvents, crm_events::Inbox::new(db.clone()));
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, sales)),
            token_keys: None,
            outboxes: Vec::new(),
            api_keys: None,
            consumers: vec![(IAM_TOPIC, Arc::new(consumer))],
        })
    })
}

/// The sales service on a migrated SQL database.
pub fn build(db: &Database) -> Sales {
    Sales::new(
        Arc::new(SqlSalesStore::new(db.clone())),
        Arc::new(crm_core::clock::SystemClock),
        Idempotency::new(db.clone()),
    )
}

/// Adds the sales services to a server.
pub fn register(services: &mut ServiceSet, sales: Sales) {
    let grpc = SalesGrpc::new(sales);
    services
        .add(pb::pipeline_service_server::PipelineServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::lead_service_server::LeadServiceServer::new(grpc));
    for service in NOT_BUILT {
        services.add_unavailable(service, CAPABILITY);
    }
}
