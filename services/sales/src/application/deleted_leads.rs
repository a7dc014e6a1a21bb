//! Deleting a lead and the way back: delete (kept restorable for 30 days), the
//! deleted leads still restorable, restoring one, and the purge that removes them for good.
//! Whoever may write a lead (`leads.write`; a `:own` grant, their own) may delete, see and
//! restore it.

use crm_core::Result;
use uuid::Uuid;

use super::{Caller, Sales};
use crate::domain::Millis;
use crate::domain::events::{lead_deleted, lead_name, lead_purged, lead_restored};
use crate::domain::lead::Lead;

/// The permission that deletes leads, and sees and restores the deleted ones.
const WRITE: &str = "leads.write";

use crm_core::deletion::PURGE_BATCH;

/// A page of deleted leads and where the next begins (deletion time and id).
pub struct DeletedLeads {
    /// The leads, most recently deleted first.
    pub leads: Vec<Lead>,
    /// After the last one, when the page was full.
    pub next: Option<(Millis, Uuid)>,
}

impl Sales {
    /// Deletes a lead (restorable for 30 days); a converted one is refused.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, lead_id = %id))]
    pub async fn delete_lead(&self, caller: &Caller, id: Uuid, etag: &str) -> Result<()> {
        super::access::reach(caller, WRITE)?;
        let now = self.now();
        self.change_lead(caller, id, (etag, WRITE), |lead: &mut Lead| {
            lead.delete(now).map_err(super::leads::refused)?;
            Ok(Some(vec![lead_deleted(lead, &caller.cause())]))
        })
        .await
        .map(drop)
    }

    /// A page of the deleted leads the caller may restore, most recently deleted first.
    pub async fn list_deleted_leads(
        &self,
        caller: &Caller,
        after: Option<(Millis, Uuid)>,
        size: u32,
    ) -> Result<DeletedLeads> {
        let p = &caller.principal;
        let owner = super::access::reach(caller, WRITE)?;
        let leads = self
            .store
            .list_deleted_leads(p.tenant_id, owner, after, size)
            .await?;
        let next = (leads.len() as u32 == size)
            .then(|| leads.last())
            .flatten()
            .map(|last| (last.deleted_at.unwrap_or_default(), last.id));
        Ok(DeletedLeads { leads, next })
    }

    /// Brings a deleted lead back within its window, as it was.
    #[tracing::instrument(skip_all, fields(tenant_id = %caller.principal.tenant_id, lead_id = %id))]
    pub async fn restore_lead(&self, caller: &Caller, id: Uuid) -> Result<Lead> {
        let p = &caller.principal;
        super::access::reach(caller, WRITE)?;
        let now = self.now();
        let change = Box::new(move |lead: &mut Lead| {
            super::access::decide(caller, WRITE, lead.owner_id, None, &Default::default())?;
            lead.restore(now)
                .map_err(|refusal| refusal.error("lead", lead.id, &lead_name(lead)))?;
            Ok(Some(vec![lead_restored(lead, &caller.cause())]))
        });
        self.store.restore_lead(p.tenant_id, id, change).await
    }

    /// Purges every lead whose restore window has closed, a batch per transaction, each with
    /// `LeadPurged`; returns how many.
    pub async fn purge_due_leads(&self) -> Result<u64> {
        let window = crm_core::deletion::window_millis();
        let store = &self.store;
        let batch = move |now: i64| async move {
            let purged = move |lead: &Lead| lead_purged(lead, now);
            let before = now.saturating_sub(window);
            store.purge_leads(before, PURGE_BATCH, &purged).await
        };
        crm_core::deletion::purge_due(|| self.now(), batch).await
    }

    /// Purges what is due every hour, while the process serves (the launcher's task).
    pub async fn run_lead_purge(self) {
        crm_core::deletion::purge_every("leads", || self.purge_due_leads()).await
    }
}
