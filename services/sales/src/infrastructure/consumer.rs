//! What sales does with IAM's events: a new tenant gets its default pipeline, so it can convert
//! a lead at once. The handler writes in the consumer's transaction, which also records the
//! event as processed: a redelivered `TenantCreated` seeds nothing twice.

use async_trait::async_trait;
use crm_core::TenantId;
use crm_events::{Envelope, Handler, Tx};
use crm_proto::crm::iam::events::v1::TenantCreated;
use prost::Name;

use super::sql::pipelines;
use crate::domain::pipeline::Pipeline;

/// The consumer group's name.
pub const GROUP: &str = "sales";

/// The currency a seeded pipeline uses: a new tenant's default (IAM's `TenantSettings`).
pub const SEED_CURRENCY: &str = "MYR";

/// Seeds each new tenant's default pipeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct TenantPipelines;

#[async_trait]
impl Handler for TenantPipelines {
    fn wants(&self, event_type: &str) -> bool {
        event_type == TenantCreated::full_name()
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        let created = event
            .decode::<TenantCreated>()
            .ok_or_else(|| anyhow::anyhow!("a TenantCreated that does not decode"))?;
        let tenant = TenantId::parse(&created.tenant_id)
            .map_err(|e| anyhow::anyhow!("TenantCreated.tenant_id: {e}"))?;
        if pipelines::get(tx, tenant, None).await?.is_some() {
            return Ok(());
        }
        let pipeline = Pipeline::seed(tenant, SEED_CURRENCY, event.time);
        pipelines::insert(tx, &pipeline).await?;
        tracing::info!(tenant_id = %tenant, pipeline_id = %pipeline.id, "seeded the default pipeline");
        Ok(())
    }
}
