//! What the sales use cases need from the outside: a store (SQLite and PostgreSQL in one SQL
//! adapter, one contract suite).

use async_trait::async_trait;
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::pipeline::Pipeline;

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
}
