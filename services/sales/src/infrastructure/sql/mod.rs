//! The sales store on SQLite and PostgreSQL, written once (ids as UUIDv7 text, times as epoch
//! milliseconds, `$n` parameters). On PostgreSQL every transaction runs as `crm_app` with
//! `app.tenant_id` set, so row-level security backs the `tenant_id` filter of every statement.

pub mod leads;
pub mod pipelines;

use async_trait::async_trait;
use crm_core::storage::Conn;
use crm_core::storage::{Database, Tx, UniqueConstraint, map_db_error};
use crm_core::{Error, Result, TenantId, UserId};
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::lead::Lead;
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::{LeadFilter, OutboxEvent, SalesStore, SalesUser};

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

const UNIQUES: &[UniqueConstraint] = &[UniqueConstraint {
    name: "pipelines_one_default",
    sqlite_columns: "pipelines.tenant_id",
    field: "pipeline.default",
    message: "another pipeline became the default at the same time; read again and retry",
}];

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(
        "stored data could not be read",
        anyhow::anyhow!("{what}: {detail}"),
    )
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

    async fn save_pipeline(&self, pipeline: &Pipeline, expected_version: i64) -> Result<()> {
        let mut tx = self.begin(pipeline.tenant_id).await?;
        if !pipelines::update(&mut tx, pipeline, expected_version).await? {
            return Err(
                Error::etag_mismatch("pipeline").with_metadata("id", pipeline.id.to_string())
            );
        }
        tx.commit().await.map_err(db("saving a pipeline"))
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
}
