//! Sales: pipelines and stages, leads (qualify, score, assign), conversion to opportunities (a
//! saga with compensation), stage moves, win to deal, lose with reason, analytics, forecast.
//!
//! `domain/` holds the rules, `application/` the use cases and who may run them,
//! `infrastructure/` the SQL store (SQLite and PostgreSQL) and the consumer of IAM's events,
//! `interfaces/grpc/` the API.
//!
//! Every `crm.sales.v1` method is served. Conversion calls the customer service through
//! [`domain::ports::CustomerDirectory`], a gRPC client (`infrastructure::directory`), and a
//! background task resumes conversions a crash or an outage left unfinished.

pub mod application;
pub mod config;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crm_core::breaker::NamedBreaker;
use crm_core::grpc::ServiceSet;
use crm_core::idempotency::Idempotency;
use crm_core::service_auth::ServiceTokens;
use crm_core::storage::{Database, Migrations};
use crm_core::supervise::Task;
use crm_events::bounded::{Access, BoundedContext, Call, Provides, Started, Startup};
use crm_proto::crm::sales::v1 as pb;
use futures::future::BoxFuture;

use crate::application::Sales;
use crm_core::upstream::Balanced;

use crate::domain::ports::CustomerDirectory;
use crate::infrastructure::consumer::{GROUP, IamEvents};
use crate::infrastructure::customer_events;
use crate::infrastructure::directory::{GrpcCustomerDirectory, Tuning};
use crate::infrastructure::sql::SqlSalesStore;
use crate::interfaces::grpc::SalesGrpc;

/// The sales context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/sales/sqlite"),
    postgres: sqlx::migrate!("../../migrations/sales/postgres"),
};

/// The sales context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    name: "sales",
    has_store: true,
    topic: Some("crm.sales.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: Some(&config::SECTION),
    services: crm_proto::services::SALES,
    access: Access::PEOPLE,
    // A conversion's customer, and sales' own service tokens.
    calls: &[
        Call {
            context: "customer",
            endpoint: "customer_endpoint",
        },
        Call {
            context: "iam",
            endpoint: "iam_endpoint",
        },
    ],
    service_secret: Some("service_secret"),
    provides: Provides::NOTHING,
    permissions: domain::permissions::PERMISSIONS,
    sends_notices: false,
    start,
};

/// The topic of the events sales consumes (IAM's).
pub const IAM_TOPIC: &str = "crm.iam.events.v1";

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup
            .db
            .context("sales needs its store; it is opened for every context with has_store")?;
        let settings = config::SalesConfig::of(startup.config)?;
        let mut breakers = Vec::new();
        let customers: Arc<dyn CustomerDirectory> = match directory(&settings) {
            Ok(directory) => {
                breakers.push(NamedBreaker {
                    name: "sales.customer".into(),
                    watch: directory.breaker(),
                });
                directory
            }
            Err(e) => {
                tracing::warn!(error = %e, "lead conversion and opportunities need the customer service; their calls answer UNAVAILABLE until it is configured");
                Arc::new(Unconfigured(format!("{e:#}")))
            }
        };
        let sales = build(db, customers);
        let consumer =
            crm_events::Consumer::new(GROUP, IamEvents, crm_events::Inbox::new(db.clone()));
        let deletions = crm_events::Consumer::new(
            customer_events::GROUP,
            customer_events::CustomerEvents,
            crm_events::Inbox::new(db.clone()),
        );
        let interval = Duration::from_secs(settings.recovery_interval_seconds.unwrap_or(10));
        let recovery = {
            let sales = sales.clone();
            Task::new("sales conversion recovery", move || {
                recovery_task(sales.clone(), interval)
            })
        };
        let purge = {
            let sales = sales.clone();
            Task::new("lead purge", move || sales.clone().run_lead_purge())
        };
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, sales)),
            consumers: vec![
                (IAM_TOPIC, consumer),
                (customer_events::CUSTOMER_TOPIC, deletions),
            ],
            tasks: vec![recovery, purge],
            breakers,
            ..Started::default()
        })
    })
}

/// The customer directory the configuration names: a gRPC client of the customer service,
/// acting with sales' service tokens from IAM.
pub fn directory(settings: &config::SalesConfig) -> anyhow::Result<Arc<GrpcCustomerDirectory>> {
    // One address or several (`http://customer-0:50051,http://customer-1:50051`, or
    // `dns:///customer-headless:50051`): taken in turn, around the processes that fail.
    let endpoint = |url: &Option<String>, context: &'static str, key: &str| {
        let url = url.as_deref().with_context(|| {
            format!("set `sales.{key}`: the service sales calls does not run in this process")
        })?;
        Balanced::connect("sales", context, &format!("sales.{key}"), url)
    };
    let secret = settings.service_secret.clone().context(
        "set `sales.service_secret` (`crm service-account secret sales` makes one, and its hash goes in IAM's `iam.service_accounts.sales`)",
    )?;
    let tokens = ServiceTokens::new(
        endpoint(&settings.iam_endpoint, "iam", "iam_endpoint")?,
        "sales",
        secret,
        Arc::new(crm_core::clock::SystemClock),
    );
    let mut tuning = Tuning::default();
    if let Some(ms) = settings.call_deadline_millis {
        tuning.deadline = Duration::from_millis(ms);
    }
    Ok(Arc::new(GrpcCustomerDirectory::new(
        endpoint(&settings.customer_endpoint, "customer", "customer_endpoint")?,
        tokens,
        tuning,
    )))
}

/// The directory of a sales process told neither where the customer service is nor how to
/// prove itself (or of a tool that calls no customer): every call answers `UNAVAILABLE` with
/// this reason, saying what to configure.
pub struct Unconfigured(pub String);

#[async_trait::async_trait]
impl CustomerDirectory for Unconfigured {
    async fn get(
        &self,
        _: crm_core::TenantId,
        _: uuid::Uuid,
    ) -> crm_core::Result<Option<domain::ports::CustomerRef>> {
        Err(self.error())
    }

    async fn find_by_email(
        &self,
        _: crm_core::TenantId,
        _: &str,
    ) -> crm_core::Result<Option<domain::ports::CustomerRef>> {
        Err(self.error())
    }

    async fn create(
        &self,
        _: crm_core::TenantId,
        _: &str,
        _: &domain::ports::NewCustomer,
    ) -> crm_core::Result<domain::ports::CustomerRef> {
        Err(self.error())
    }

    async fn delete(&self, _: crm_core::TenantId, _: uuid::Uuid) -> crm_core::Result<()> {
        Err(self.error())
    }
}

impl Unconfigured {
    fn error(&self) -> crm_core::Error {
        crm_core::Error::new(
            crm_core::ErrorKind::Unavailable,
            format!("sales cannot reach the customer service: {}", self.0),
        )
        .with_reason("CUSTOMER_SERVICE_NOT_CONFIGURED")
    }
}

/// Every `interval`, resumes conversions left unfinished for at least that long.
async fn recovery_task(sales: Sales, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sales.recover_conversions(interval).await {
            tracing::warn!(error = %e, "looking for unfinished conversions failed; trying again later");
        }
    }
}

/// The sales service on a migrated SQL database.
pub fn build(db: &Database, customers: Arc<dyn CustomerDirectory>) -> Sales {
    Sales::new(
        Arc::new(SqlSalesStore::new(db.clone())),
        customers,
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
        .add(pb::lead_service_server::LeadServiceServer::new(
            grpc.clone(),
        ))
        .add(pb::opportunity_service_server::OpportunityServiceServer::new(grpc.clone()))
        .add(pb::deal_service_server::DealServiceServer::new(grpc));
}
