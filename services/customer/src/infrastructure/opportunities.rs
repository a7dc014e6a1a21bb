//! The customers' open opportunities (`customer_open_opportunities`), kept from sales' events:
//! an opportunity opened (directly, or by a lead's conversion) or reopened is open; won or lost,
//! it is not. Written by the consumer of `crm.sales.events.v1` in the transaction that records
//! the event as handled, so a redelivery changes nothing twice; read by the delete use case.
//! Always in the context's SQL store, also when the customers themselves are on MongoDB.

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, map_db_error};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::{Envelope, Handler, Tx};
use crm_proto::crm::sales::events::v1 as sales;
use prost::Name;
use uuid::Uuid;

use crate::domain::ports::OpenOpportunities;

/// The consumer group reading sales' topic.
pub const GROUP: &str = "customer-sales";

/// Sales' topic.
pub const SALES_TOPIC: &str = "crm.sales.events.v1";

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, &[], doing)
}

/// The projection's reads, on the context's SQL store.
#[derive(Clone)]
pub struct SqlOpenOpportunities {
    db: Database,
}

impl SqlOpenOpportunities {
    /// Over the context's SQL store.
    pub fn new(db: Database) -> SqlOpenOpportunities {
        SqlOpenOpportunities { db }
    }
}

#[async_trait]
impl OpenOpportunities for SqlOpenOpportunities {
    async fn owners(&self, tenant: TenantId, customer: Uuid) -> Result<Vec<Option<UserId>>> {
        self.db
            .in_tenant(
                tenant,
                "counting a customer's open opportunities",
                async |tx| {
                    let rows: Vec<(Option<String>,)> = sqlx::query_as(
                        "select owner_id from customer_open_opportunities \
                     where tenant_id = $1 and customer_id = $2",
                    )
                    .bind(tenant.to_string())
                    .bind(customer.to_string())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("counting a customer's open opportunities"))?;
                    Ok(rows
                        .into_iter()
                        .map(|(owner,)| owner.and_then(|o| UserId::parse(&o).ok()))
                        .collect())
                },
            )
            .await
    }
}

/// Keeps the projection from sales' events.
#[derive(Clone, Copy, Debug, Default)]
pub struct SalesEvents;

#[async_trait]
impl Handler for SalesEvents {
    fn wants(&self, event_type: &str) -> bool {
        [
            sales::OpportunityCreated::full_name(),
            sales::LeadConverted::full_name(),
            sales::OpportunityReopened::full_name(),
            sales::DealWon::full_name(),
            sales::DealLost::full_name(),
        ]
        .iter()
        .any(|t| t == event_type)
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        let tenant = &event.tenant_id;
        let tx: &mut Conn = tx;
        if let Some(e) = event.decode::<sales::OpportunityCreated>() {
            let o = e.opportunity.unwrap_or_default();
            open(tx, tenant, &o.id, &o.customer_id, &o.owner_id).await?;
        } else if let Some(e) = event.decode::<sales::LeadConverted>() {
            open(tx, tenant, &e.opportunity_id, &e.customer_id, &e.owner_id).await?;
        } else if let Some(e) = event.decode::<sales::OpportunityReopened>() {
            open(tx, tenant, &e.opportunity_id, &e.customer_id, &e.owner_id).await?;
        } else if let Some(e) = event.decode::<sales::DealWon>() {
            closed(tx, tenant, &e.deal.unwrap_or_default().opportunity_id).await?;
        } else if let Some(e) = event.decode::<sales::DealLost>() {
            closed(tx, tenant, &e.opportunity_id).await?;
        }
        Ok(())
    }
}

async fn open(
    tx: &mut Conn,
    tenant: &str,
    opportunity: &str,
    customer: &str,
    owner: &str,
) -> Result<()> {
    sqlx::query(
        "insert into customer_open_opportunities (tenant_id, opportunity_id, customer_id, owner_id) \
         values ($1, $2, $3, $4) on conflict (tenant_id, opportunity_id) do update set \
         customer_id = excluded.customer_id, owner_id = excluded.owner_id",
    )
    .bind(tenant)
    .bind(opportunity)
    .bind(customer)
    .bind((!owner.is_empty()).then_some(owner))
    .execute(tx)
    .await
    .map_err(db("recording an open opportunity"))
    .map(drop)
}

async fn closed(tx: &mut Conn, tenant: &str, opportunity: &str) -> Result<()> {
    sqlx::query(
        "delete from customer_open_opportunities where tenant_id = $1 and opportunity_id = $2",
    )
    .bind(tenant)
    .bind(opportunity)
    .execute(tx)
    .await
    .map_err(db("recording a closed opportunity"))
    .map(drop)
}
