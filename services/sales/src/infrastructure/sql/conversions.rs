//! Lead-conversion sagas (`conversions`: the step as a column, the whole saga as JSON in `doc`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::SqlSalesStore;
use super::db;
use super::live_stage;
use crate::domain::Millis;
use crate::domain::conversion::{Conversion, Step};
use crate::domain::lead::Lead;
use crate::domain::opportunity::Opportunity;
use crate::domain::ports::ConversionStore;
use crate::domain::ports::OutboxEvent;
use async_trait::async_trait;
use crm_core::Error;
use crm_core::storage::{from_doc, to_doc};
use crm_events::outbox::append_events;

const UNFINISHED: &str = "('started', 'customer_ensured', 'compensating')";

/// Adds a saga unless the lead has one under way or the request id was used (false then).
pub async fn insert(tx: &mut Conn, c: &Conversion) -> Result<bool> {
    let done = sqlx::query(
        "insert into conversions (id, tenant_id, lead_id, request_id, step, doc, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing",
    )
    .bind(c.id.to_string())
    .bind(c.tenant_id.to_string())
    .bind(c.lead_id.to_string())
    .bind(&c.request_id)
    .bind(c.step.as_str())
    .bind(to_doc(c))
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(tx)
    .await
    .map_err(db("starting a conversion"))?;
    Ok(done.rows_affected() == 1)
}

/// Saves a saga's progress if it is still at step `from` (false when another runner moved it
/// on first).
pub async fn update_from(tx: &mut Conn, c: &Conversion, from: Step) -> Result<bool> {
    let done = sqlx::query(
        "update conversions set step = $3, doc = $4, updated_at = $5 \
         where tenant_id = $1 and id = $2 and step = $6",
    )
    .bind(c.tenant_id.to_string())
    .bind(c.id.to_string())
    .bind(c.step.as_str())
    .bind(to_doc(c))
    .bind(c.updated_at)
    .bind(from.as_str())
    .execute(tx)
    .await
    .map_err(db("saving a conversion"))?;
    Ok(done.rows_affected() == 1)
}

/// A saga by id.
pub async fn get(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Conversion>> {
    let row: Option<(String,)> =
        sqlx::query_as("select doc from conversions where tenant_id = $1 and id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(tx)
            .await
            .map_err(db("reading a conversion"))?;
    row.map(|(d,)| from_doc("conversions.doc", &d)).transpose()
}

/// The saga a request id started.
pub async fn by_request(
    tx: &mut Conn,
    tenant: TenantId,
    request_id: &str,
) -> Result<Option<Conversion>> {
    let row: Option<(String,)> = sqlx::query_as(
        "select doc from conversions where tenant_id = $1 and request_id = $2 and request_id <> ''",
    )
    .bind(tenant.to_string())
    .bind(request_id)
    .fetch_optional(tx)
    .await
    .map_err(db("reading a conversion"))?;
    row.map(|(d,)| from_doc("conversions.doc", &d)).transpose()
}

/// The lead's saga under way, if any.
pub async fn active_for_lead(
    tx: &mut Conn,
    tenant: TenantId,
    lead: Uuid,
) -> Result<Option<Conversion>> {
    let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select doc from conversions where tenant_id = $1 and lead_id = $2 and step in {UNFINISHED}"
    )))
    .bind(tenant.to_string())
    .bind(lead.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a conversion"))?;
    row.map(|(d,)| from_doc("conversions.doc", &d)).transpose()
}

/// Unfinished sagas of every tenant last saved at or before `before`, oldest first (`now`
/// itself takes every one: a test's recovery runs in the millisecond the saga was saved).
pub async fn unfinished(tx: &mut Conn, before: i64, limit: u32) -> Result<Vec<Conversion>> {
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select doc from conversions where step in {UNFINISHED} and updated_at <= $1 \
         order by updated_at limit $2"
    )))
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("listing unfinished conversions"))?;
    rows.iter()
        .map(|(d,)| from_doc("conversions.doc", d))
        .collect()
}

#[async_trait]
impl ConversionStore for SqlSalesStore {
    async fn start_conversion(&self, conversion: &Conversion) -> Result<Conversion> {
        let tenant = conversion.tenant_id;
        let mut tx = self.begin_write(tenant).await?;
        if insert(&mut tx, conversion).await? {
            tx.commit().await.map_err(db("starting a conversion"))?;
            return Ok(conversion.clone());
        }
        let by_request = if conversion.request_id.is_empty() {
            None
        } else {
            by_request(&mut tx, tenant, &conversion.request_id).await?
        };
        let existing = match by_request {
            Some(found) => Some(found),
            None => active_for_lead(&mut tx, tenant, conversion.lead_id).await?,
        };
        tx.commit().await.map_err(db("starting a conversion"))?;
        existing.ok_or_else(|| {
            Error::new(
                crm_core::ErrorKind::Aborted,
                "another conversion of this lead ended at the same moment; read the lead again",
            )
        })
    }

    async fn get_conversion(&self, tenant: TenantId, id: Uuid) -> Result<Option<Conversion>> {
        self.db
            .in_tenant(tenant, "reading a conversion", async |tx| {
                get(tx, tenant, id).await
            })
            .await
    }

    async fn conversion_by_request(
        &self,
        tenant: TenantId,
        request_id: &str,
    ) -> Result<Option<Conversion>> {
        self.db
            .in_tenant(tenant, "reading a conversion", async |tx| {
                by_request(tx, tenant, request_id).await
            })
            .await
    }

    async fn save_conversion(&self, conversion: &Conversion, from: Step) -> Result<bool> {
        self.db
            .in_tenant(conversion.tenant_id, "saving a conversion", async |tx| {
                update_from(tx, conversion, from).await
            })
            .await
    }

    async fn finish_conversion(
        &self,
        conversion: &Conversion,
        opportunity: &Opportunity,
        lead: &Lead,
        expected_lead_version: i64,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let mut tx = self.begin_write(conversion.tenant_id).await?;
        // Another runner of the same saga (a concurrent call, the recovery task) got there
        // first: nothing to do.
        match get(&mut tx, conversion.tenant_id, conversion.id).await? {
            Some(stored) if stored.step == Step::CustomerEnsured => {}
            _ => {
                return Err(Error::new(
                    crm_core::ErrorKind::Aborted,
                    "the conversion moved on meanwhile; read it again",
                ));
            }
        }
        live_stage(&mut tx, opportunity).await?;
        super::opportunities::insert(&mut tx, opportunity).await?;
        if !super::leads::update(&mut tx, lead, expected_lead_version).await? {
            return Err(Error::etag_mismatch("lead").with_metadata("id", lead.id.to_string()));
        }
        append_events(&mut tx, &events).await?;
        // At `CustomerEnsured`, as read above in this transaction.
        update_from(&mut tx, conversion, Step::CustomerEnsured).await?;
        tx.commit().await.map_err(db("converting a lead"))
    }

    async fn unfinished_conversions(&self, before: Millis, limit: u32) -> Result<Vec<Conversion>> {
        let mut tx = self
            .db
            .begin_scoped("app.saga_recovery", "on")
            .await
            .map_err(db("starting a transaction across tenants"))?;
        let found = unfinished(&mut tx, before, limit).await?;
        tx.commit()
            .await
            .map_err(db("listing unfinished conversions"))?;
        Ok(found)
    }
}
