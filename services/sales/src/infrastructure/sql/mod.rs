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
use crm_core::storage::{Database, Tx, UniqueConstraint, WriteTx, map_db_error};
use crm_core::{Error, Result, TenantId, UserId};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::analytics::{Analytics, ForecastMonth, Period};
use crate::domain::conversion::{Conversion, Step};
use crate::domain::lead::Lead;
use crate::domain::opportunity::{Deal, Opportunity, OpportunityStatus};
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::{
    DealCursor, DealFilter, LeadFilter, OpportunityFilter, OutboxEvent, SalesStore, SalesUser,
    TenantPolicy,
};

/// Appends events to the outbox in the change's transaction.
async fn append(tx: &mut Conn, events: &[OutboxEvent]) -> Result<()> {
    let pairs: Vec<(&str, &crm_events::Envelope)> = events
        .iter()
        .map(|e| (e.aggregate_type, &e.envelope))
        .collect();
    crm_events::outbox::append_all(tx, &pairs)
        .await
        .map_err(db("writing events to the outbox"))
}

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

/// An aggregate as the JSON its `doc` column keeps.
pub(crate) fn doc<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("sales aggregates serialise")
}

/// An aggregate from its `doc` column (`what` names the column for the error).
pub(crate) fn read<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(
        "stored data could not be read",
        anyhow::anyhow!("{what}: {detail}"),
    )
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

    async fn begin(&self, tenant: TenantId) -> Result<Tx> {
        self.db
            .begin_for(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}

#[async_trait]
impl SalesStore for SqlSalesStore {
    async fn insert_pipeline(&self, pipeline: &Pipeline) -> Result<()> {
        let mut tx = self.begin(pipeline.tenant_id).await?;
        pipelines::insert(&mut tx, pipeline).await?;
        tx.commit().await.map_err(db("creating a pipeline"))
    }

    async fn get_pipeline(&self, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>> {
        let mut tx = self.begin(tenant).await?;
        let found = pipelines::get(&mut tx, tenant, Some(id)).await?;
        tx.commit().await.map_err(db("reading a pipeline"))?;
        Ok(found)
    }

    async fn default_pipeline(&self, tenant: TenantId) -> Result<Option<Pipeline>> {
        let mut tx = self.begin(tenant).await?;
        let found = pipelines::get(&mut tx, tenant, None).await?;
        tx.commit().await.map_err(db("reading a pipeline"))?;
        Ok(found)
    }

    async fn list_pipelines(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>> {
        let mut tx = self.begin(tenant).await?;
        let found = pipelines::list(&mut tx, tenant, after, limit).await?;
        tx.commit().await.map_err(db("listing pipelines"))?;
        Ok(found)
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
        let mut tx = self.begin(lead.tenant_id).await?;
        leads::insert(&mut tx, lead).await?;
        append(&mut tx, &events).await?;
        tx.commit().await.map_err(db("creating a lead"))
    }

    async fn get_lead(&self, tenant: TenantId, id: Uuid) -> Result<Option<Lead>> {
        let mut tx = self.begin(tenant).await?;
        let lead = leads::get(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db("reading a lead"))?;
        Ok(lead)
    }

    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Lead>> {
        let mut tx = self.begin(tenant).await?;
        let found = leads::list(&mut tx, tenant, filter, after, limit).await?;
        tx.commit().await.map_err(db("listing leads"))?;
        Ok(found)
    }

    async fn save_lead(
        &self,
        lead: &Lead,
        expected_version: i64,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let mut tx = self.begin(lead.tenant_id).await?;
        if !leads::update(&mut tx, lead, expected_version).await? {
            return Err(Error::etag_mismatch("lead").with_metadata("id", lead.id.to_string()));
        }
        append(&mut tx, &events).await?;
        tx.commit().await.map_err(db("saving a lead"))
    }

    async fn record_user(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        roles: &[String],
        at: Millis,
    ) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        leads::put_user(&mut tx, tenant, user, email, roles, at).await?;
        tx.commit().await.map_err(db("recording a user"))
    }

    async fn record_user_status(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        active: bool,
        at: Millis,
    ) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        leads::put_status(&mut tx, tenant, user, email, active, at).await?;
        tx.commit().await.map_err(db("recording a user's status"))
    }

    async fn sales_user(&self, tenant: TenantId, user: UserId) -> Result<Option<SalesUser>> {
        let mut tx = self.begin(tenant).await?;
        let found = leads::sales_user(&mut tx, tenant, user).await?;
        tx.commit().await.map_err(db("reading a user"))?;
        Ok(found)
    }

    async fn tenant_policy(&self, tenant: TenantId) -> Result<TenantPolicy> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::policy(&mut tx, tenant).await?;
        tx.commit()
            .await
            .map_err(db("reading the tenant's settings"))?;
        Ok(found)
    }

    async fn insert_opportunity(
        &self,
        opportunity: &Opportunity,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let mut tx = self.begin_write(opportunity.tenant_id).await?;
        live_stage(&mut tx, opportunity).await?;
        opportunities::insert(&mut tx, opportunity).await?;
        append(&mut tx, &events).await?;
        tx.commit().await.map_err(db("creating an opportunity"))
    }

    async fn get_opportunity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Opportunity>> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::get(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db("reading an opportunity"))?;
        Ok(found)
    }

    async fn list_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Opportunity>> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::list(&mut tx, tenant, filter, after, limit).await?;
        tx.commit().await.map_err(db("listing opportunities"))?;
        Ok(found)
    }

    async fn save_opportunity(
        &self,
        opportunity: &Opportunity,
        expected_version: i64,
        deal: Option<&Deal>,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let tenant = opportunity.tenant_id;
        let mut tx = self.begin_write(tenant).await?;
        let stored = opportunities::get(&mut tx, tenant, opportunity.id)
            .await?
            .filter(|stored| stored.version == expected_version);
        if let Some(stored) = &stored
            && stored.stage_id != opportunity.stage_id
            && opportunity.status == OpportunityStatus::Open
        {
            live_stage(&mut tx, opportunity).await?;
        }
        let saved = match &stored {
            Some(stored) => opportunities::update(&mut tx, opportunity, stored).await?,
            None => false,
        };
        if !saved {
            return Err(
                Error::etag_mismatch("opportunity").with_metadata("id", opportunity.id.to_string())
            );
        }
        if let Some(deal) = deal {
            opportunities::insert_deal(&mut tx, deal).await?;
        }
        append(&mut tx, &events).await?;
        tx.commit().await.map_err(db("saving an opportunity"))
    }

    async fn open_in_stages(
        &self,
        tenant: TenantId,
        pipeline: Uuid,
        stages: &[Uuid],
    ) -> Result<Vec<(Uuid, i64)>> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::open_in_stages(&mut tx, tenant, pipeline, stages).await?;
        tx.commit()
            .await
            .map_err(db("counting open opportunities"))?;
        Ok(found)
    }

    async fn get_deal(&self, tenant: TenantId, id: Uuid) -> Result<Option<Deal>> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::get_deal(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db("reading a deal"))?;
        Ok(found)
    }

    async fn list_deals(
        &self,
        tenant: TenantId,
        filter: &DealFilter,
        after: Option<DealCursor>,
        limit: u32,
    ) -> Result<Vec<Deal>> {
        let mut tx = self.begin(tenant).await?;
        let found = opportunities::list_deals(&mut tx, tenant, filter, after, limit).await?;
        tx.commit().await.map_err(db("listing deals"))?;
        Ok(found)
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
        let mut tx = self.begin(tenant).await?;
        let found = conversions::get(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(db("reading a conversion"))?;
        Ok(found)
    }

    async fn conversion_by_request(
        &self,
        tenant: TenantId,
        request_id: &str,
    ) -> Result<Option<Conversion>> {
        let mut tx = self.begin(tenant).await?;
        let found = conversions::by_request(&mut tx, tenant, request_id).await?;
        tx.commit().await.map_err(db("reading a conversion"))?;
        Ok(found)
    }

    async fn save_conversion(&self, conversion: &Conversion) -> Result<()> {
        let mut tx = self.begin(conversion.tenant_id).await?;
        conversions::update(&mut tx, conversion).await?;
        tx.commit().await.map_err(db("saving a conversion"))
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
        append(&mut tx, &events).await?;
        conversions::update(&mut tx, conversion).await?;
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
        let mut tx = self.begin(pipeline.tenant_id).await?;
        let found =
            analytics::analytics_now(&mut tx, self.db.engine(), pipeline, period, now).await?;
        tx.commit().await.map_err(db("reading analytics"))?;
        Ok(found)
    }

    async fn analytics(
        &self,
        pipeline: &Pipeline,
        period: &Period,
        as_of: Millis,
    ) -> Result<Analytics> {
        let mut tx = self.begin(pipeline.tenant_id).await?;
        let found =
            analytics::analytics_as_of(&mut tx, self.db.engine(), pipeline, period, as_of).await?;
        tx.commit().await.map_err(db("reading analytics"))?;
        Ok(found)
    }

    async fn forecast(
        &self,
        pipeline: &Pipeline,
        months: &[(Millis, Millis)],
    ) -> Result<Vec<ForecastMonth>> {
        let mut tx = self.begin(pipeline.tenant_id).await?;
        let found = analytics::forecast(&mut tx, self.db.engine(), pipeline, months).await?;
        tx.commit().await.map_err(db("reading the forecast"))?;
        Ok(found)
    }
}
