//! What the sales use cases need from the outside: a store (SQLite and PostgreSQL in one SQL
//! adapter, one contract suite).

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::Millis;
use super::lead::{Lead, LeadStatus};
use super::pipeline::Pipeline;

/// A domain event bound for the outbox, written in the same transaction as its change.
#[derive(Clone, Debug)]
pub struct OutboxEvent {
    /// `lead`, `opportunity`, ...
    pub aggregate_type: &'static str,
    /// The event in its CloudEvents envelope (source `crm.sales`).
    pub envelope: crm_events::Envelope,
}

/// A user of the tenant as sales knows them (from IAM's events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesUser {
    /// Their roles.
    pub roles: Vec<String>,
    /// Whether they may be handed work (not deactivated or deleted).
    pub active: bool,
}

/// Filters of ListLeads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    /// Only this status.
    pub status: Option<LeadStatus>,
    /// Only this owner's.
    pub owner_id: Option<UserId>,
    /// Only this source number.
    pub source: Option<i32>,
}

/// Sales data of every tenant; every method is scoped to one tenant and never sees another's.
#[async_trait]
pub trait SalesStore: Send + Sync + 'static {
    /// Adds a pipeline with its stages. If it is the default, the tenant's other pipelines stop
    /// being it, in the same transaction.
    async fn insert_pipeline(&self, pipeline: &Pipeline) -> Result<()>;
    /// A pipeline with its current stages, in order.
    async fn get_pipeline(&self, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>>;
    /// The tenant's default pipeline.
    async fn default_pipeline(&self, tenant: TenantId) -> Result<Option<Pipeline>>;
    /// Pipelines in id order after `after`, at most `limit`.
    async fn list_pipelines(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>>;
    /// Saves a changed pipeline if it is still at `expected_version` (`ABORTED` otherwise);
    /// stages it no longer lists are marked removed, and becoming the default takes it from
    /// the others.
    async fn save_pipeline(&self, pipeline: &Pipeline, expected_version: i64) -> Result<()>;

    /// Adds a lead with its events.
    async fn insert_lead(&self, lead: &Lead, events: Vec<OutboxEvent>) -> Result<()>;
    /// A lead by id.
    async fn get_lead(&self, tenant: TenantId, id: Uuid) -> Result<Option<Lead>>;
    /// Leads in id order after `after`, filtered, at most `limit`.
    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Lead>>;
    /// Saves a changed lead with its events if it is still at `expected_version` (`ABORTED`
    /// otherwise).
    async fn save_lead(
        &self,
        lead: &Lead,
        expected_version: i64,
        events: Vec<OutboxEvent>,
    ) -> Result<()>;

    /// Records a user's email and roles (sales' view of IAM's users); an older record never
    /// overwrites a newer one.
    async fn record_user(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        roles: &[String],
        at: Millis,
    ) -> Result<()>;
    /// Records that a user may (or may no longer) be handed work; an older record never
    /// overwrites a newer one.
    async fn record_user_status(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        active: bool,
        at: Millis,
    ) -> Result<()>;
    /// A user as sales knows them; `None` for a user it has not heard of.
    async fn sales_user(&self, tenant: TenantId, user: UserId) -> Result<Option<SalesUser>>;
}
