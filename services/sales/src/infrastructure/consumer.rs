//! What sales does with IAM's events: a new tenant gets its default pipeline, so it can convert
//! a lead at once; users, their roles and whether they are active are kept in sales' own view
//! (`sales_users`), so assigning a lead never calls IAM; the tenant settings sales follows (the
//! large-deal threshold, the time zone) are kept in `sales_tenants`. The handler writes in the consumer's transaction, which
//! also records the event as processed: a redelivered event has no second effect.

use async_trait::async_trait;
use crm_core::TenantId;
use crm_core::UserId;
use crm_events::{Envelope, Handler, Tx};
use crm_proto::crm::iam::events::v1::{
    TenantCreated, TenantSettingsChanged, UserCreated, UserRoleChanged, UserStatusChanged,
};
use prost::Name;

use super::sql::{leads, opportunities, pipelines};
use crate::domain::pipeline::Pipeline;
use crate::domain::ports::TenantPolicy;

/// The consumer group's name.
pub const GROUP: &str = "sales";

/// Seeds each new tenant's default pipeline and keeps sales' view of users.
#[derive(Clone, Copy, Debug, Default)]
pub struct IamEvents;

#[async_trait]
impl Handler for IamEvents {
    fn wants(&self, event_type: &str) -> bool {
        [
            TenantCreated::full_name(),
            TenantSettingsChanged::full_name(),
            UserCreated::full_name(),
            UserRoleChanged::full_name(),
            UserStatusChanged::full_name(),
        ]
        .iter()
        .any(|t| t == event_type)
    }

    async fn handle(&self, event: &Envelope, tx: &mut Tx) -> anyhow::Result<()> {
        let tenant = TenantId::parse(&event.tenant_id)
            .map_err(|e| anyhow::anyhow!("the event's tenant id: {e}"))?;
        let user =
            |raw: &str| UserId::parse(raw).map_err(|e| anyhow::anyhow!("the event's user id: {e}"));
        if let Some(created) = event.decode::<UserCreated>() {
            let id = user(&created.user_id)?;
            leads::put_user(tx, tenant, id, &created.email, &created.roles, event.time).await?;
            return Ok(());
        }
        if let Some(changed) = event.decode::<UserStatusChanged>() {
            let id = user(&changed.user_id)?;
            let active = changed.status == crm_proto::crm::iam::v1::UserStatus::Active as i32;
            leads::put_status(tx, tenant, id, &changed.email, active, event.time).await?;
            return Ok(());
        }
        if let Some(changed) = event.decode::<TenantSettingsChanged>() {
            let settings = changed.settings.unwrap_or_default();
            let policy = TenantPolicy {
                deal_approval_threshold_units: settings.deal_approval_threshold_units.max(0),
                currency_code: settings.default_currency_code.trim().to_ascii_uppercase(),
                time_zone: if settings.time_zone.parse::<chrono_tz::Tz>().is_ok() {
                    settings.time_zone
                } else {
                    TenantPolicy::default().time_zone
                },
            };
            opportunities::put_policy(tx, tenant, &policy, event.time).await?;
            return Ok(());
        }
        if let Some(changed) = event.decode::<UserRoleChanged>() {
            let id = user(&changed.user_id)?;
            leads::put_user(tx, tenant, id, &changed.email, &changed.roles, event.time).await?;
            return Ok(());
        }
        let created = event
            .decode::<TenantCreated>()
            .ok_or_else(|| anyhow::anyhow!("a TenantCreated that does not decode"))?;
        let tenant = TenantId::parse(&created.tenant_id)
            .map_err(|e| anyhow::anyhow!("TenantCreated.tenant_id: {e}"))?;
        if pipelines::get(tx, tenant, None).await?.is_some() {
            return Ok(());
        }
        // In the workspace's language and currency (English and MYR when the event is older
        // than them, or names no currency there is).
        let pipeline = Pipeline::seed_in(
            tenant,
            &created.default_currency_code,
            &created.locale,
            event.time,
        );
        pipelines::insert(tx, &pipeline).await?;
        tracing::info!(tenant_id = %tenant, pipeline_id = %pipeline.id, "seeded the default pipeline");
        Ok(())
    }
}
