//! Deals (`deals`: a won opportunity booked, its filter columns and the deal as JSON in `doc`).

use crm_core::storage::Conn;
use crm_core::storage::{from_doc, to_doc};
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::{db, text};
use crate::domain::opportunity::Deal;
use crate::domain::ports::{DealCursor, DealFilter};

/// Adds a deal.
pub async fn insert_deal(tx: &mut Conn, d: &Deal) -> Result<()> {
    sqlx::query(
        "insert into deals (id, tenant_id, opportunity_id, pipeline_id, customer_id, owner_id, \
         amount_units, amount_nanos, closed_at, doc) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(text(d.id))
    .bind(text(d.tenant_id))
    .bind(text(d.opportunity_id))
    .bind(text(d.pipeline_id))
    .bind(text(d.customer_id))
    .bind(d.owner_id.map(text))
    .bind(d.amount.units)
    .bind(i64::from(d.amount.nanos))
    .bind(d.closed_at)
    .bind(to_doc(d))
    .execute(tx)
    .await
    .map_err(db("booking a deal"))
    .map(drop)
}

/// Withdraws a deal (its opportunity was reopened).
pub async fn delete_deal(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<()> {
    sqlx::query("delete from deals where tenant_id = $1 and id = $2")
        .bind(text(tenant))
        .bind(text(id))
        .execute(tx)
        .await
        .map_err(db("withdrawing a deal"))
        .map(drop)
}

/// A deal by id.
pub async fn get_deal(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Deal>> {
    let row: Option<(String,)> =
        sqlx::query_as("select doc from deals where tenant_id = $1 and id = $2")
            .bind(text(tenant))
            .bind(text(id))
            .fetch_optional(tx)
            .await
            .map_err(db("reading a deal"))?;
    row.map(|(d,)| from_doc("deals.doc", &d)).transpose()
}

/// Deals newest first after `after`, filtered.
pub async fn list_deals(
    tx: &mut Conn,
    tenant: TenantId,
    f: &DealFilter,
    after: Option<DealCursor>,
    limit: u32,
) -> Result<Vec<Deal>> {
    let (after_time, after_id) = match after {
        Some((t, id)) => (t, text(id)),
        None => (i64::MAX, String::new()),
    };
    let rows: Vec<(String,)> = sqlx::query_as(
        "select doc from deals where tenant_id = $1 \
         and (closed_at < $2 or (closed_at = $2 and ($3 = '' or id < $3))) \
         and ($4 = '' or owner_id = $4) and ($5 = '' or customer_id = $5) \
         and closed_at >= $6 and closed_at < $7 \
         order by closed_at desc, id desc limit $8",
    )
    .bind(text(tenant))
    .bind(after_time)
    .bind(after_id)
    .bind(f.owner_id.map(text).unwrap_or_default())
    .bind(f.customer_id.map(text).unwrap_or_default())
    .bind(f.from.unwrap_or(i64::MIN))
    .bind(f.before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("listing deals"))?;
    rows.iter().map(|(d,)| from_doc("deals.doc", d)).collect()
}
