//! The sales store on SQLite and PostgreSQL, written once (ids as UUIDv7 text, times as epoch
//! milliseconds, `$n` parameters). On PostgreSQL every transaction runs as `crm_app` with
//! `app.tenant_id` set, so row-level security backs the `tenant_id` filter of every statement.

pub mod analytics;
pub mod conversions;
pub mod leads;
pub mod opportunities;
pub mod pipelines;

use async_trait::async_trait;
use crm_core::storage::Conn;
use crm_core::storage::{Database, UniqueConstraint, WriteTx, map_db_error};
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::analytics::{Analytics, ForecastMonth, Period};
use crate::domain::conversion::{Conversion, Step};
use crate::domain::lead::Lead;
use crate::domain::opportunity::{Deal, Opportunity, OpportunityStatus};
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::{
    DealCursor, DealFilter, LeadChange, LeadFilter, OpportunityChange, OpportunityFilter,
    OutboxEvent, SalesStore, SalesUser, TenantPolicy,
};

const UNIQUES: &[UniqueConstraint] = &[
    UniqueConstraint {
        name: "pipelines_one_default",
        sqlite_columns: "pipelines.tenant_id",
        field: "pipeline.default",
        message: "another pipeline became the default at the same time; read again and retry",
    },
    UniqueConstraint {
        name: "opportunities_lead",
        sqlite_columns: "opportunities.tenant_id, opportunities.lead_id",
        field: "id",
        message: "the lead was converted at the same time; read it again",
    },
    UniqueConstraint {
        name: "deals_opportunity",
        sqlite_columns: "deals.tenant_id, deals.opportunity_id",
        field: "id",
        message: "the opportunity was won at the same time; read it again",
    },
];

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// `FAILED_PRECONDITION` `STAGE_REMOVED` unless the opportunity's stage is one its pipeline
/// still has, read in the writing transaction (a removal at the same moment is either seen
/// here or sees this opportunity and is refused itself).
async fn live_stage(tx: &mut Conn, o: &Opportunity) -> Result<()> {
    if pipelines::stage_is_live(tx, o.tenant_id, o.pipeline_id, o.stage_id).await? {
        return Ok(());
    }
    Err(Error::new(
        crm_core::ErrorKind::FailedPrecondition,
        "this stage was removed from the pipeline at the same moment: reload the pipeline and choose one of its stages",
    )
    .with_reason("STAGE_REMOVED")
    .with_metadata("stage_id", o.stage_id.to_string()))
}

/// The sales store on either engine.
pub struct SqlSalesStore {
    db: Database,
}

impl SqlSalesStore {
    /// A store on `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn begin_write(&self, tenant: TenantId) -> Result<WriteTx> {
        self.db
            .begin_write(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}

#[async_trait]
impl SalesStore for SqlSalesStore {
    async fn insert_pipeline(&self, pipeline: &Pipeline) -> Result<()> {
        self.db
            .in_tenant(pipeline.tenant_id, "creating a pipeline", async |tx| {
                pipelines::insert(tx, pipeline).await
            })
            .await
    }

    async fn get_pipeline(&self, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>> {
        self.db
            .in_tenant(tenant, "reading a pipeline", async |tx| {
                pipelines::get(tx, tenant, Some(id)).await
            })
            .await
    }

    async fn default_pipeline(&self, tenant: TenantId) -> Result<Option<Pipeline>> {
        self.db
            .in_tenant(tenant, "reading a pipeline", async |tx| {
                pipelines::get(tx, tenant, None).await
            })
            .await
    }

    async fn list_pipelines(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>> {
        self.db
            .in_tenant(tenant, "listing pipelines", async |tx| {
                pipelines::list(tx, tenant, after, limit).await
            })
            .await
    }

    async fn save_pipeline(
        &self,
        pipeline: &Pipeline,
        expected_version: i64,
        removed: &[Uuid],
    ) -> Result<Vec<(Uuid, i64)>> {
        let mut tx = self.begin_write(pipeline.tenant_id).await?;
        // The update takes the pipeline's row first: a move into a removed stage holds it
        // `FOR SHARE` ([`pipelines::stage_is_live`]), so the count below sees every move that
        // got there before, and every later one sees the removal.
        if !pipelines::update(&mut tx, pipeline, expected_version).await? {
            return Err(
                Error::etag_mismatch("pipeline").with_metadata("id", pipeline.id.to_string())
            );
        }
        if !removed.is_empty() {
            let occupied =
                opportunities::open_in_stages(&mut tx, pipeline.tenant_id, pipeline.id, removed)
                    .await?;
            if !occupied.is_empty() {
                // Dropped uncommitted: nothing of the change is saved.
                return Ok(occupied);
            }
        }
        tx.commit().await.map_err(db("saving a pipeline"))?;
        Ok(Vec::new())
    }

    async fn insert_lead(&self, lead: &Lead, events: Vec<OutboxEvent>) -> Result<()> {
        self.db
            .in_tenant(lead.tenant_id, "creating a lead", async |tx| {
                leads::insert(tx, lead).await?;
                append_events(tx, &events).await
            })
            .await
    }

    async fn get_lead(&self, tenant: TenantId, id: Uuid) -> Result<Option<Lead>> {
        self.db
            .in_tenant(tenant, "reading a lead", async |tx| {
                leads::get(tx, tenant, id).await
            })
            .await
    }

    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Lead>> {
        self.db
            .in_tenant(tenant, "listing leads", async |tx| {
                leads::list(tx, tenant, filter, after, limit).await
            })
            .await
    }

    async fn update_lead(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: LeadChange<'_>,
    ) -> Result<Lead> {
        self.db
            .in_tenant_write(tenant, "saving a lead", async |tx| {
                let mut lead = leads::get_to_change(tx, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("lead", id))?;
                let expected = lead.version;
                let Some(events) = change(&mut lead)? else {
                    return Ok(lead);
                };
                // Read under the write lock: no other writer can have moved it on.
                if !leads::update(tx, &lead, expected).await? {
                    return Err(Error::etag_mismatch("lead").with_metadata("id", id.to_string()));
                }
                append_events(tx, &events).await?;
                Ok(lead)
            })
            .await
    }

    async fn record_user(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        roles: &[String],
        at: Millis,
    ) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording a user", async |tx| {
                leads::put_user(tx, tenant, user, email, roles, at).await
            })
            .await
    }

    async fn record_user_status(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        active: bool,
        at: Millis,
    ) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording a user's status", async |tx| {
                leads::put_status(tx, tenant, user, email, active, at).await
            })
            .await
    }

    async fn sales_user(&self, tenant: TenantId, user: UserId) -> Result<Option<SalesUser>> {
        self.db
            .in_tenant(tenant, "reading a user", async |tx| {
                leads::sales_user(tx, tenant, user).await
            })
            .await
    }

    async fn tenant_policy(&self, tenant: TenantId) -> Result<TenantPolicy> {
        self.db
            .in_tenant(tenant, "reading the tenant's settings", async |tx| {
                opportunities::policy(tx, tenant).await
            })
            .await
    }

    async fn insert_opportunity(
        &self,
        opportunity: &Opportunity,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let mut tx = self.begin_write(opportunity.tenant_id).await?;
        live_stage(&mut tx, opportunity).await?;
        opportunities::insert(&mut tx, opportunity).await?;
        append_events(&mut tx, &events).await?;
        tx.commit().await.map_err(db("creating an opportunity"))
    }

    async fn get_opportunity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Opportunity>> {
        self.db
            .in_tenant(tenant, "reading an opportunity", async |tx| {
                opportunities::get(tx, tenant, id).await
            })
            .await
    }

    async fn list_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Opportunity>> {
        self.db
            .in_tenant(tenant, "listing opportunities", async |tx| {
                opportunities::list(tx, tenant, filter, after, limit).await
            })
            .await
    }

    async fn update_opportunity(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: OpportunityChange<'_>,
    ) -> Result<Opportunity> {
        self.db
            .in_tenant_write(tenant, "saving an opportunity", async |tx| {
                let stored = opportunities::get_to_change(tx, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("opportunity", id))?;
                let mut changed = stored.clone();
                let Some(write) = change(&mut changed)? else {
                    return Ok(stored);
                };
                if stored.stage_id != changed.stage_id && changed.status == OpportunityStatus::Open
                {
                    live_stage(tx, &changed).await?;
                }
                // Read under the write lock: no other writer can have moved it on.
                if !opportunities::update(tx, &changed, &stored).await? {
                    return Err(
                        Error::etag_mismatch("opportunity").with_metadata("id", id.to_string())
                    );
                }
                if let Some(deal) = &write.deal {
                    opportunities::insert_deal(tx, deal).await?;
                }
                append_events(tx, &write.events).await?;
                Ok(changed)
            })
            .await
    }

    async fn open_in_stages(
        &self,
        tenant: TenantId,
        pipeline: Uuid,
        stages: &[Uuid],
    ) -> Result<Vec<(Uuid, i64)>> {
        self.db
            .in_tenant(tenant, "counting open opportunities", async |tx| {
                opportunities::open_in_stages(tx, tenant, pipeline, stages).await
            })
            .await
    }

    async fn get_deal(&self, tenant: TenantId, id: Uuid) -> Result<Option<Deal>> {
        self.db
            .in_tenant(tenant, "reading a deal", async |tx| {
                opportunities::get_deal(tx, tenant, id).await
            })
            .await
    }

    async fn list_deals(
        &self,
        tenant: TenantId,
        filter: &DealFilter,
        after: Option<DealCursor>,
        limit: u32,
    ) -> Result<Vec<Deal>> {
        self.db
            .in_tenant(tenant, "listing deals", async |tx| {
                opportunities::list_deals(tx, tenant, filter, after, limit).await
            })
            .await
    }

    async fn start_conversion(&self, conversion: &Conversion) -> Result<Conversion> {
        let tenant = conversion.tenant_id;
        let mut tx = self.begin_write(tenant).await?;
        if conversions::insert(&mut tx, conversion).await? {
            tx.commit().await.map_err(db("starting a conversion"))?;
            return Ok(conversion.clone());
        }
        let by_request = if conversion.request_id.is_empty() {
            None
        } else {
            conversions::by_request(&mut tx, tenant, &conversion.request_id).await?
        };
        let existing = match by_request {
            Some(found) => Some(found),
            None => conversions::active_for_lead(&mut tx, tenant, conversion.lead_id).await?,
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
                conversions::get(tx, tenant, id).await
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
                conversions::by_request(tx, tenant, request_id).await
            })
            .await
    }

    async fn save_conversion(&self, conversion: &Conversion, from: Step) -> Result<bool> {
        self.db
            .in_tenant(conversion.tenant_id, "saving a conversion", async |tx| {
                conversions::update_from(tx, conversion, from).await
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
        match conversions::get(&mut tx, conversion.tenant_id, conversion.id).await? {
            Some(stored) if stored.step == Step::CustomerEnsured => {}
            _ => {
                return Err(Error::new(
                    crm_core::ErrorKind::Aborted,
                    "the conversion moved on meanwhile; read it again",
                ));
            }
        }
        live_stage(&mut tx, opportunity).await?;
        opportunities::insert(&mut tx, opportunity).await?;
        if !leads::update(&mut tx, lead, expected_lead_version).await? {
            return Err(Error::etag_mismatch("lead").with_metadata("id", lead.id.to_string()));
        }
        append_events(&mut tx, &events).await?;
        // At `CustomerEnsured`, as read above in this transaction.
        conversions::update_from(&mut tx, conversion, Step::CustomerEnsured).await?;
        tx.commit().await.map_err(db("converting a lead"))
    }

    async fn unfinished_conversions(&self, before: Millis, limit: u32) -> Result<Vec<Conversion>> {
        let mut tx = self
            .db
            .begin_scoped("app.saga_recovery", "on")
            .await
            .map_err(db("starting a transaction across tenants"))?;
        let found = conversions::unfinished(&mut tx, before, limit).await?;
        tx.commit()
            .await
            .map_err(db("listing unfinished conversions"))?;
        Ok(found)
    }

    async fn analytics_now(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        now: Millis,
    ) -> Result<Analytics> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading analytics", async |tx| {
                analytics::analytics_now(tx, self.db.engine(), pipeline, period, now).await
            })
            .await
    }

    async fn analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
    ) -> Result<Analytics> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading analytics", async |tx| {
                analytics::analytics_as_of(tx, self.db.engine(), pipeline, period, as_of).await
            })
            .await
    }

    async fn forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
    ) -> Result<Vec<ForecastMonth>> {
        self.db
            .in_tenant(pipeline.tenant_id, "reading the forecast", async |tx| {
                analytics::forecast(tx, self.db.engine(), pipeline, months).await
            })
            .await
    }
}
