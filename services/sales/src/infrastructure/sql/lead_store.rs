//! The lead port of the SQL store: each statement of `leads` and `deleted_leads` in a
//! transaction scoped to its tenant (the purge crosses tenants on its own terms).

use async_trait::async_trait;
use crm_core::{Result, TenantId, UserId};
use crm_events::outbox::append_events;
use uuid::Uuid;

use super::SqlSalesStore;
use super::leads::{count, decide_and_save, get, get_to_change, insert, list};
use crate::domain::Millis;
use crate::domain::lead::Lead;
use crate::domain::ports::{LeadChange, LeadFilter, LeadPurged, LeadStore, OutboxEvent};

#[async_trait]
impl LeadStore for SqlSalesStore {
    async fn insert_lead(&self, lead: &Lead, events: Vec<OutboxEvent>) -> Result<()> {
        self.db
            .in_tenant(lead.tenant_id, "creating a lead", async |tx| {
                insert(tx, lead).await?;
                append_events(tx, &events).await
            })
            .await
    }

    async fn get_lead(&self, tenant: TenantId, id: Uuid) -> Result<Option<Lead>> {
        self.db
            .in_tenant(tenant, "reading a lead", async |tx| {
                get(tx, tenant, id).await
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
                list(tx, tenant, filter, after, limit).await
            })
            .await
    }

    async fn count_leads(&self, tenant: TenantId, filter: &LeadFilter) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting leads", async |tx| {
                count(tx, tenant, filter).await
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
                let found = get_to_change(tx, tenant, id).await?;
                decide_and_save(tx, found, id, &mut change).await
            })
            .await
    }

    async fn list_deleted_leads(
        &self,
        tenant: TenantId,
        owner: Option<UserId>,
        after: Option<(Millis, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Lead>> {
        self.db
            .in_tenant(tenant, "listing deleted leads", async |tx| {
                super::deleted_leads::list(tx, tenant, owner, after, limit).await
            })
            .await
    }

    async fn restore_lead(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: LeadChange<'_>,
    ) -> Result<Lead> {
        super::deleted_leads::restore(&self.db, tenant, id, change).await
    }

    async fn purge_leads(&self, before: Millis, limit: u32, purged: &LeadPurged) -> Result<u32> {
        super::deleted_leads::purge(&self.db, before, limit, purged).await
    }
}
