//! Customers: individuals and businesses with contacts, addresses, phones, emails, social
//! profiles, tags and custom fields; one primary email per tenant; search; bulk import and
//! export.
//!
//! `domain/` holds the rules (the [`domain::customer::Customer`] aggregate), `application/` the
//! use cases and who may run them, `infrastructure/` the stores (SQLite and PostgreSQL in one
//! SQL store, MongoDB), `interfaces/grpc/` the API, and `config` its section (`[customer]`:
//! which store).

pub mod application;
pub mod config;
pub mod domain;
pub mod infrastructure;
pub mod interfaces;

use std::sync::Arc;

use anyhow::Context as _;
use crm_core::grpc::ServiceSet;
use crm_core::idempotency::Idempotency;
use crm_core::storage::{Database, Migrations};
use crm_core::supervise::Task;
use crm_events::bounded::{Access, BoundedContext, Call, Provides, Started, Startup};
use crm_proto::crm::customer::v1 as pb;
use futures::future::BoxFuture;

use crate::application::Customers;
use crate::config::StoreKind;
use crate::domain::ports::{CustomerStore, Members};
use crate::infrastructure::iam::{self, GrpcMembers};
use crate::infrastructure::opportunities::{GROUP, SALES_TOPIC, SalesEvents, SqlOpenOpportunities};
use crate::infrastructure::sql::{SqlCustomFieldStore, SqlCustomerStore};
use crate::interfaces::grpc::{CustomFieldGrpc, CustomerGrpc};

/// The customer context's embedded migrations.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("../../migrations/customer/sqlite"),
    postgres: sqlx::migrate!("../../migrations/customer/postgres"),
};

/// The customer context, for the launcher's list.
pub static CONTEXT: BoundedContext = BoundedContext {
    name: "customer",
    has_store: true,
    topic: Some("crm.customer.events.v1"),
    migrations: Some(&MIGRATIONS),
    config: Some(&config::SECTION),
    services: crm_proto::services::CUSTOMER,
    access: Access {
        open: &[],
        for_services: &SERVICE_METHODS,
        internal: &[],
    },
    // Who may own a customer: the tenant's active users.
    calls: &[Call {
        context: "iam",
        endpoint: "iam_endpoint",
    }],
    service_secret: None,
    provides: Provides::NOTHING,
    permissions: domain::permissions::PERMISSIONS,
    sends_notices: false,
    start,
};

fn start(startup: Startup<'_>) -> BoxFuture<'_, anyhow::Result<Started>> {
    Box::pin(async move {
        let db = startup
            .db
            .context("customers need their store; it is opened for every context with has_store")?;
        let settings = config::CustomerConfig::of(startup.config)?;
        let members: Arc<dyn Members> = match &settings.iam_endpoint {
            Some(url) => Arc::new(GrpcMembers::new(url)?),
            None => {
                tracing::warn!(
                    "`customer.iam_endpoint` is unset and IAM does not run here: a customer can be given only to the caller until it is set"
                );
                Arc::new(iam::Unconfigured)
            }
        };
        let (customers, outboxes): (_, Vec<crm_events::OutboxLog>) = match settings
            .store(startup.config)
        {
            StoreKind::Sqlite | StoreKind::Postgres => {
                infrastructure::sql::rebuild_search_index(db)
                    .await
                    .map_err(|e| anyhow::anyhow!("rebuilding the customers' search index: {e}"))?;
                infrastructure::sql::rekey_names(db)
                    .await
                    .map_err(|e| anyhow::anyhow!("ordering the customers' names: {e}"))?;
                (build(db, members), Vec::new())
            }
            #[cfg(not(feature = "mongodb"))]
            StoreKind::Mongodb => {
                anyhow::bail!("this crm was built without MongoDB (`customer.store = mongodb`)")
            }
            #[cfg(feature = "mongodb")]
            StoreKind::Mongodb => {
                use crate::infrastructure::mongo::MongoCustomerStore;
                let url = startup
                    .config
                    .mongodb
                    .url
                    .as_ref()
                    .context("`customer.store` is `mongodb` but `mongodb.url` is unset")?;
                let store = MongoCustomerStore::connect(url.expose(), &settings.mongodb_database)
                    .await
                    .map_err(|e| anyhow::anyhow!("the customers' MongoDB store: {e}"))?;
                let outboxes = CONTEXT
                    .topic
                    .map(|topic| store.outbox(topic))
                    .into_iter()
                    .collect();
                (build_on(Arc::new(store), members, db), outboxes)
            }
        };
        // The customers' open opportunities, kept from sales' events in the SQL store: read
        // where sales' events reach this process (sales beside it, or Kafka). A process without
        // either has no opportunities to count, and deletes as before.
        let sales_reach = startup.config.runs("sales") || startup.config.kafka.brokers.is_some();
        let consumers = if sales_reach {
            vec![(
                SALES_TOPIC,
                crm_events::Consumer::new(GROUP, SalesEvents, crm_events::Inbox::new(db.clone())),
            )]
        } else {
            tracing::warn!(
                "sales' events do not reach this process (no sales here, no kafka.brokers): a customer's open opportunities are not known, and deleting one does not refuse for them"
            );
            Vec::new()
        };
        let purger = customers.clone();
        Ok(Started {
            register: Box::new(move |services: &mut ServiceSet| register(services, customers)),
            outboxes,
            consumers,
            tasks: vec![Task::new("customer purge", move || {
                purger.clone().run_purge()
            })],
            ..Started::default()
        })
    })
}

/// The customer service on a migrated SQL database, asking `members` who may own customers.
pub fn build(db: &Database, members: Arc<dyn Members>) -> Customers {
    build_on(Arc::new(SqlCustomerStore::new(db.clone())), members, db)
}

/// The customer service on `store`, with its `request_id` records in `db`, asking `members`
/// who may own customers.
pub fn build_on(
    store: Arc<dyn CustomerStore>,
    members: Arc<dyn Members>,
    db: &Database,
) -> Customers {
    Customers::new(
        store,
        Arc::new(SqlCustomFieldStore::new(db.clone())),
        members,
        Arc::new(SqlOpenOpportunities::new(db.clone())),
        Arc::new(crm_core::clock::SystemClock),
        Idempotency::new(db.clone()),
    )
}

/// The methods other services call with their own service tokens (sales' lead conversion
/// makes, finds, reads and, when it is undone, deletes a converted lead's customer); every other
/// one serves people.
pub const SERVICE_METHODS: [&str; 4] = [
    "/crm.customer.v1.CustomerService/CreateCustomer",
    "/crm.customer.v1.CustomerService/GetCustomer",
    "/crm.customer.v1.CustomerService/SearchCustomers",
    "/crm.customer.v1.CustomerService/DeleteCustomer",
];

/// Adds the customer service to a server.
pub fn register(services: &mut ServiceSet, customers: Customers) {
    services.add(
        pb::custom_field_service_server::CustomFieldServiceServer::new(CustomFieldGrpc::new(
            customers.clone(),
        )),
    );
    services.add(pb::customer_service_server::CustomerServiceServer::new(
        CustomerGrpc::new(customers),
    ));
    CONTEXT.access.apply(services);
}
