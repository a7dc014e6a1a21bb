//! Opportunities (`opportunities`: filter and sum columns, the whole opportunity as JSON in
//! `doc`), their stage entries (`stage_changes`, with when each stay ended) and the tenant
//! settings sales follows (`sales_tenants`); their deals are in [`super::deals`].

use crm_core::storage::Conn;
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::SqlSalesStore;
use super::deals::{delete_deal, get_deal, insert_deal, list_deals};
use super::live_stage;
use super::{db, text};
use crate::domain::opportunity::{Deal, Opportunity, OpportunityStatus};
use crate::domain::ports::OpportunityStore;
use crate::domain::ports::{DealCursor, DealFilter, OpportunityFilter, TenantPolicy};
use crate::domain::ports::{OpportunityChange, OutboxEvent};
use crate::domain::ports::{OpportunityCursor, OpportunityOrder};
use async_trait::async_trait;
use crm_core::Error;
use crm_core::storage::{from_doc, to_doc};
use crm_events::outbox::append_events;

/// Adds an opportunity and its stage entries.
pub async fn insert(tx: &mut Conn, o: &Opportunity) -> Result<()> {
    sqlx::query(
        "insert into opportunities (id, tenant_id, pipeline_id, stage_id, status, owner_id, \
         customer_id, lead_id, amount_units, amount_nanos, probability, expected_close_at, \
         created_at, updated_at, closed_at, doc, version, loss_reason, approval_state, search_text) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20)",
    )
    .bind(text(o.id))
    .bind(text(o.tenant_id))
    .bind(text(o.pipeline_id))
    .bind(text(o.stage_id))
    .bind(o.status.as_str())
    .bind(o.owner_id.map(text))
    .bind(text(o.customer_id))
    .bind(o.lead_id.map(text))
    .bind(o.amount.units)
    .bind(i64::from(o.amount.nanos))
    .bind(i64::from(o.probability))
    .bind(o.expected_close_at)
    .bind(o.created_at)
    .bind(o.updated_at)
    .bind(o.closed_at)
    .bind(to_doc(o))
    .bind(o.version)
    .bind(i64::from(o.loss_reason))
    .bind(o.approval.as_ref().map(|a| a.state.as_str()))
    .bind(o.search_text())
    .execute(&mut *tx)
    .await
    .map_err(db("creating an opportunity"))?;
    record_history(tx, o, 0).await?;
    super::analytics::apply(tx, None, o).await
}

/// Writes the stage entries from `from` on, and ends the stay before each (and the last one,
/// if the opportunity closed).
async fn record_history(tx: &mut Conn, o: &Opportunity, from: usize) -> Result<()> {
    for (seq, change) in o.stage_history.iter().enumerate().skip(from) {
        sqlx::query(
            "insert into stage_changes (tenant_id, opportunity_id, seq, pipeline_id, from_stage_id, \
             to_stage_id, changed_by, changed_at, left_at, to_position) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, null, $9)",
        )
        .bind(text(o.tenant_id))
        .bind(text(o.id))
        .bind(seq as i64)
        .bind(text(o.pipeline_id))
        .bind(change.from_stage_id.map(text))
        .bind(text(change.to_stage_id))
        .bind(text(change.changed_by))
        .bind(change.changed_at)
        .bind(i64::from(change.to_position))
        .execute(&mut *tx)
        .await
        .map_err(db("recording a stage change"))?;
        if seq > 0 {
            end_stay(tx, o, seq - 1, change.changed_at).await?;
        }
    }
    if let Some(closed) = o.closed_at {
        end_stay(tx, o, o.stage_history.len().saturating_sub(1), closed).await?;
    }
    Ok(())
}

async fn end_stay(tx: &mut Conn, o: &Opportunity, seq: usize, at: i64) -> Result<()> {
    sqlx::query(
        "update stage_changes set left_at = $4 \
         where tenant_id = $1 and opportunity_id = $2 and seq = $3 and left_at is null",
    )
    .bind(text(o.tenant_id))
    .bind(text(o.id))
    .bind(seq as i64)
    .bind(at)
    .execute(tx)
    .await
    .map_err(db("recording a stage change"))
    .map(drop)
}

/// Saves a changed opportunity if `stored` (as read in this transaction) is still current
/// (false when stale): the stage entries it gained are recorded, and the running sums of
/// analytics take its change.
pub async fn update(tx: &mut Conn, o: &Opportunity, stored: &Opportunity) -> Result<bool> {
    let done = sqlx::query(
        "update opportunities set stage_id = $3, status = $4, owner_id = $5, amount_units = $6, \
         amount_nanos = $7, probability = $8, expected_close_at = $9, updated_at = $10, \
         closed_at = $11, doc = $12, version = $13, loss_reason = $15, approval_state = $16, \
         search_text = $17 where tenant_id = $1 and id = $2 and version = $14",
    )
    .bind(text(o.tenant_id))
    .bind(text(o.id))
    .bind(text(o.stage_id))
    .bind(o.status.as_str())
    .bind(o.owner_id.map(text))
    .bind(o.amount.units)
    .bind(i64::from(o.amount.nanos))
    .bind(i64::from(o.probability))
    .bind(o.expected_close_at)
    .bind(o.updated_at)
    .bind(o.closed_at)
    .bind(to_doc(o))
    .bind(o.version)
    .bind(stored.version)
    .bind(i64::from(o.loss_reason))
    .bind(o.approval.as_ref().map(|a| a.state.as_str()))
    .bind(o.search_text())
    .execute(&mut *tx)
    .await
    .map_err(db("saving an opportunity"))?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    record_history(tx, o, stored.stage_history.len()).await?;
    super::analytics::apply(tx, Some(stored), o).await?;
    Ok(true)
}

/// The ids of a customer's open opportunities.
pub async fn open_of_customer(
    tx: &mut Conn,
    tenant: TenantId,
    customer: Uuid,
) -> Result<Vec<Uuid>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "select id from opportunities where tenant_id = $1 and customer_id = $2 \
         and status = 'open' order by id",
    )
    .bind(text(tenant))
    .bind(text(customer))
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading a customer's open opportunities"))?;
    rows.iter()
        .map(|(id,)| {
            Uuid::try_parse(id).map_err(|e| {
                Error::internal("a stored opportunity id does not parse", anyhow::anyhow!(e))
            })
        })
        .collect()
}

/// An opportunity by id.
pub async fn get(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Opportunity>> {
    read(tx, tenant, id, "").await
}

/// An opportunity by id, read to be changed in this transaction: locked until it ends on
/// PostgreSQL (SQLite's write transaction already excludes other writers).
pub async fn get_to_change(
    tx: &mut Conn,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Opportunity>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    read(tx, tenant, id, lock).await
}

async fn read(
    tx: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    lock: &str,
) -> Result<Option<Opportunity>> {
    let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select doc from opportunities where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading an opportunity"))?;
    row.map(|(d,)| from_doc("opportunities.doc", &d))
        .transpose()
}

/// Opportunities in `order` after `after`, filtered, at most `limit`.
pub async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    f: &OpportunityFilter,
    order: OpportunityOrder,
    after: Option<OpportunityCursor>,
    limit: u32,
) -> Result<Vec<Opportunity>> {
    // The keys an order sorts by before the id (as `OpportunityOrder::keys` computes them).
    let (first, second) = match order {
        OpportunityOrder::Created | OpportunityOrder::CreatedDesc => ("0", "0"),
        OpportunityOrder::Updated | OpportunityOrder::UpdatedDesc => ("updated_at", "0"),
        OpportunityOrder::Amount | OpportunityOrder::AmountDesc => ("amount_units", "amount_nanos"),
        OpportunityOrder::Close | OpportunityOrder::CloseDesc => {
            ("coalesce(expected_close_at, 9223372036854775807)", "0")
        }
    };
    let (beyond, direction) = match order.descending() {
        false => (">", "asc"),
        true => ("<", "desc"),
    };
    // A constant key is no key to order by (SQL reads `order by 0` as a column's position).
    let sorted: String = [first, second]
        .into_iter()
        .filter(|key| *key != "0")
        .map(|key| format!("{key} {direction}, "))
        .collect();
    let statement = format!(
        "select doc {FILTERED} \
         and ($14 = 0 or ({first}, {second}, id) {beyond} ($15, $16, $17)) \
         order by {sorted}id {direction} limit $13"
    );
    let (keys, id) = after.map_or(((0, 0), String::new()), |a| (a.keys, text(a.id)));
    let rows: Vec<(String,)> =
        filter_binds(sqlx::query_as(sqlx::AssertSqlSafe(statement)), tenant, f)
            .bind(i64::from(limit))
            .bind(i64::from(after.is_some()))
            .bind(keys.0)
            .bind(keys.1)
            .bind(id)
            .fetch_all(tx)
            .await
            .map_err(db("listing opportunities"))?;
    rows.iter()
        .map(|(d,)| from_doc("opportunities.doc", d))
        .collect()
}

/// How many opportunities the filter takes (as [`list`] would page through).
pub async fn count(tx: &mut Conn, tenant: TenantId, f: &OpportunityFilter) -> Result<i64> {
    let statement = format!("select count(*) {FILTERED}");
    let (n,): (i64,) = filter_binds(sqlx::query_as(sqlx::AssertSqlSafe(statement)), tenant, f)
        .fetch_one(tx)
        .await
        .map_err(db("counting opportunities"))?;
    Ok(n)
}

/// The opportunities a list or a count takes: the tenant's (`$1`) and the filter's pipeline,
/// stage, owner, status, customer, expected close range, approval and name pattern (`$2` to
/// `$12`, [`filter_binds`]) where set.
const FILTERED: &str = "from opportunities where tenant_id = $1 \
     and ($2 = '' or pipeline_id = $2) and ($3 = '' or stage_id = $3) \
     and ($4 = '' or owner_id = $4) and ($5 = '' or status = $5) \
     and ($6 = '' or customer_id = $6) \
     and ($7 = 0 or expected_close_at >= $8) and ($9 = 0 or expected_close_at < $10) \
     and ($11 = '' or approval_state = $11) \
     and ($12 = '' or search_text like $12 escape '\\')";

/// Binds [`FILTERED`]'s parameters.
fn filter_binds<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    tenant: TenantId,
    f: &OpportunityFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    query
        .bind(text(tenant))
        .bind(f.pipeline_id.map(text).unwrap_or_default())
        .bind(f.stage_id.map(text).unwrap_or_default())
        .bind(f.owner_id.map(text).unwrap_or_default())
        .bind(f.status.map(|s| s.as_str()).unwrap_or_default())
        .bind(f.customer_id.map(text).unwrap_or_default())
        .bind(i64::from(f.close_from.is_some()))
        .bind(f.close_from.unwrap_or(0))
        .bind(i64::from(f.close_before.is_some()))
        .bind(f.close_before.unwrap_or(0))
        .bind(f.approval.map(|a| a.as_str()).unwrap_or_default())
        .bind(f.query.clone().unwrap_or_default())
}

/// Open opportunities per stage among `stages`.
pub async fn open_in_stages(
    tx: &mut Conn,
    tenant: TenantId,
    pipeline: Uuid,
    stages: &[Uuid],
) -> Result<Vec<(Uuid, i64)>> {
    let mut out = Vec::new();
    for stage in stages {
        let (n,): (i64,) = sqlx::query_as(
            "select count(*) from opportunities \
             where tenant_id = $1 and pipeline_id = $2 and status = $3 and stage_id = $4",
        )
        .bind(text(tenant))
        .bind(text(pipeline))
        .bind(OpportunityStatus::Open.as_str())
        .bind(text(stage))
        .fetch_one(&mut *tx)
        .await
        .map_err(db("counting open opportunities"))?;
        if n > 0 {
            out.push((*stage, n));
        }
    }
    Ok(out)
}

/// The tenant settings sales follows; IAM's defaults when none was recorded.
pub async fn policy(tx: &mut Conn, tenant: TenantId) -> Result<TenantPolicy> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "select deal_approval_threshold_units, time_zone, currency_code from sales_tenants \
         where tenant_id = $1",
    )
    .bind(text(tenant))
    .fetch_optional(tx)
    .await
    .map_err(db("reading the tenant's settings"))?;
    Ok(row
        .map(|(threshold, zone, currency)| TenantPolicy {
            deal_approval_threshold_units: threshold,
            currency_code: currency,
            time_zone: zone,
        })
        .unwrap_or_default())
}

/// Records the tenant settings sales follows; an older record never overwrites a newer one.
pub async fn put_policy(
    tx: &mut Conn,
    tenant: TenantId,
    policy: &TenantPolicy,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "insert into sales_tenants (tenant_id, deal_approval_threshold_units, time_zone, updated_at, \
         currency_code) values ($1, $2, $3, $4, $5) on conflict (tenant_id) do update set \
         deal_approval_threshold_units = excluded.deal_approval_threshold_units, \
         time_zone = excluded.time_zone, updated_at = excluded.updated_at, \
         currency_code = excluded.currency_code \
         where sales_tenants.updated_at <= excluded.updated_at",
    )
    .bind(text(tenant))
    .bind(policy.deal_approval_threshold_units)
    .bind(&policy.time_zone)
    .bind(at)
    .bind(&policy.currency_code)
    .execute(tx)
    .await
    .map_err(db("recording the tenant's settings"))
    .map(drop)
}

#[async_trait]
impl OpportunityStore for SqlSalesStore {
    async fn insert_opportunity(
        &self,
        opportunity: &Opportunity,
        events: Vec<OutboxEvent>,
    ) -> Result<()> {
        let mut tx = self.begin_write(opportunity.tenant_id).await?;
        live_stage(&mut tx, opportunity).await?;
        insert(&mut tx, opportunity).await?;
        append_events(&mut tx, &events).await?;
        tx.commit().await.map_err(db("creating an opportunity"))
    }

    async fn get_opportunity(&self, tenant: TenantId, id: Uuid) -> Result<Option<Opportunity>> {
        self.db
            .in_tenant(tenant, "reading an opportunity", async |tx| {
                get(tx, tenant, id).await
            })
            .await
    }

    async fn list_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
        order: OpportunityOrder,
        after: Option<OpportunityCursor>,
        limit: u32,
    ) -> Result<Vec<Opportunity>> {
        self.db
            .in_tenant(tenant, "listing opportunities", async |tx| {
                list(tx, tenant, filter, order, after, limit).await
            })
            .await
    }

    async fn count_opportunities(
        &self,
        tenant: TenantId,
        filter: &OpportunityFilter,
    ) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting opportunities", async |tx| {
                count(tx, tenant, filter).await
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
                let stored = get_to_change(tx, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("opportunity", id))?;
                let mut changed = stored.clone();
                let Some(write) = change(&mut changed)? else {
                    return Ok(stored);
                };
                let placed =
                    stored.stage_id != changed.stage_id || stored.status != OpportunityStatus::Open;
                if placed && changed.status == OpportunityStatus::Open {
                    live_stage(tx, &changed).await?;
                }
                // Read under the write lock: no other writer can have moved it on.
                if !update(tx, &changed, &stored).await? {
                    return Err(
                        Error::etag_mismatch("opportunity").with_metadata("id", id.to_string())
                    );
                }
                if let Some(deal) = &write.deal {
                    insert_deal(tx, deal).await?;
                }
                // A reopened win withdraws its deal: booked revenue no longer.
                if let (Some(deal), None) = (stored.deal_id, changed.deal_id) {
                    delete_deal(tx, tenant, deal).await?;
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
                open_in_stages(tx, tenant, pipeline, stages).await
            })
            .await
    }

    async fn get_deal(&self, tenant: TenantId, id: Uuid) -> Result<Option<Deal>> {
        self.db
            .in_tenant(tenant, "reading a deal", async |tx| {
                get_deal(tx, tenant, id).await
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
                list_deals(tx, tenant, filter, after, limit).await
            })
            .await
    }
}
