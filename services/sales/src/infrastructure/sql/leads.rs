//! Leads (`leads`: filter columns and the lead as JSON) and sales' view of the tenant's users
//! (`sales_users`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::SqlSalesStore;
use super::db;
use crate::domain::Millis;
use crate::domain::lead::Lead;
use crate::domain::ports::TeamStore;
use crate::domain::ports::{LeadChange, TenantPolicy};
use crate::domain::ports::{LeadFilter, SalesUser};
use async_trait::async_trait;
use crm_core::Error;
use crm_core::storage::{from_doc, to_doc};
use crm_events::outbox::append_events;

/// Adds a lead.
pub async fn insert(tx: &mut Conn, lead: &Lead) -> Result<()> {
    sqlx::query(
        "insert into leads (id, tenant_id, status, source, owner_id, doc, created_at, updated_at, version, \
         deleted_at, search_text) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(lead.id.to_string())
    .bind(lead.tenant_id.to_string())
    .bind(lead.status.as_str())
    .bind(i64::from(lead.source))
    .bind(lead.owner_id.map(|o| o.to_string()))
    .bind(to_doc(lead))
    .bind(lead.created_at)
    .bind(lead.updated_at)
    .bind(lead.version)
    .bind(lead.deleted_at)
    .bind(lead.search_text())
    .execute(tx)
    .await
    .map_err(db("creating a lead"))
    .map(drop)
}

/// Saves a changed lead if still at `expected_version`; false when stale.
pub async fn update(tx: &mut Conn, lead: &Lead, expected_version: i64) -> Result<bool> {
    let done = sqlx::query(
        "update leads set status = $3, source = $4, owner_id = $5, doc = $6, updated_at = $7, \
         version = $8, deleted_at = $10, search_text = $11 \
         where tenant_id = $1 and id = $2 and version = $9",
    )
    .bind(lead.tenant_id.to_string())
    .bind(lead.id.to_string())
    .bind(lead.status.as_str())
    .bind(i64::from(lead.source))
    .bind(lead.owner_id.map(|o| o.to_string()))
    .bind(to_doc(lead))
    .bind(lead.updated_at)
    .bind(lead.version)
    .bind(expected_version)
    .bind(lead.deleted_at)
    .bind(lead.search_text())
    .execute(tx)
    .await
    .map_err(db("saving a lead"))?;
    Ok(done.rows_affected() == 1)
}

/// Lets `change` decide on `found` (the lead `id` read under the write lock; `NOT_FOUND` when
/// none), and saves it with the events it gives; the lead as saved, or as read when unchanged.
pub async fn decide_and_save(
    tx: &mut Conn,
    found: Option<Lead>,
    id: Uuid,
    change: &mut LeadChange<'_>,
) -> Result<Lead> {
    let mut lead = found.ok_or_else(|| Error::not_found("lead", id))?;
    let expected = lead.version;
    let Some(events) = change(&mut lead)? else {
        return Ok(lead);
    };
    // Read under the write lock: no other writer can have moved it on.
    if !update(tx, &lead, expected).await? {
        return Err(Error::etag_mismatch("lead").with_metadata("id", id.to_string()));
    }
    append_events(tx, &events).await?;
    Ok(lead)
}

/// A lead by id (not a deleted one).
pub async fn get(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Lead>> {
    read(tx, tenant, id, "null", "").await
}

/// A lead by id (not a deleted one), read to be changed in this transaction: locked until it
/// ends on PostgreSQL (SQLite's write transaction already excludes other writers).
pub async fn get_to_change(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Lead>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    read(tx, tenant, id, "null", lock).await
}

/// A deleted lead by id, read to be restored in this transaction (locked as
/// [`get_to_change`]).
pub async fn get_deleted_to_change(
    tx: &mut Conn,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Lead>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    read(tx, tenant, id, "not null", lock).await
}

/// The lead `id` whose `deleted_at is {state}`.
async fn read(
    tx: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    state: &str,
    lock: &str,
) -> Result<Option<Lead>> {
    let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select doc from leads where tenant_id = $1 and id = $2 and deleted_at is {state}{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a lead"))?;
    row.map(|(d,)| from_doc("leads.doc", &d)).transpose()
}

/// Leads in id order after `after`, filtered.
/// The leads a list or a count takes: the tenant's, after `$2` in id order, not deleted, and the
/// filter's status (`$3`), owner (`$4`), source (`$5`) and words (`$6`, a `like` pattern) when
/// set.
macro_rules! filtered_leads {
    () => {
        "from leads where tenant_id = $1 and id > $2 and deleted_at is null \
         and ($3 = '' or status = $3) and ($4 = '' or owner_id = $4) and ($5 = 0 or source = $5) \
         and ($6 = '' or search_text like $6 escape '\\')"
    };
}

pub async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    filter: &LeadFilter,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Lead>> {
    let rows: Vec<(String,)> = sqlx::query_as(concat!(
        "select doc ",
        filtered_leads!(),
        " order by id limit $7"
    ))
    .bind(tenant.to_string())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(filter.status.map(|s| s.as_str()).unwrap_or_default())
    .bind(filter.owner_id.map(|o| o.to_string()).unwrap_or_default())
    .bind(i64::from(filter.source.unwrap_or(0)))
    .bind(filter.query.clone().unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("listing leads"))?;
    rows.iter().map(|(d,)| from_doc("leads.doc", d)).collect()
}

/// How many leads the filter takes, all of them (as [`list`] would page through).
pub async fn count(tx: &mut Conn, tenant: TenantId, filter: &LeadFilter) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(concat!("select count(*) ", filtered_leads!()))
        .bind(tenant.to_string())
        .bind("")
        .bind(filter.status.map(|s| s.as_str()).unwrap_or_default())
        .bind(filter.owner_id.map(|o| o.to_string()).unwrap_or_default())
        .bind(i64::from(filter.source.unwrap_or(0)))
        .bind(filter.query.clone().unwrap_or_default())
        .fetch_one(tx)
        .await
        .map_err(db("counting leads"))?;
    Ok(n)
}

/// Records a user's roles (sales' view of IAM's users).
pub async fn put_user(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    email: &str,
    roles: &[String],
    at: i64,
) -> Result<()> {
    sqlx::query(
        "insert into sales_users (tenant_id, user_id, email, roles, updated_at) values ($1, $2, $3, $4, $5) \
         on conflict (tenant_id, user_id) do update set email = excluded.email, roles = excluded.roles, \
         updated_at = excluded.updated_at where sales_users.updated_at <= excluded.updated_at",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(email)
    .bind(roles.join(","))
    .bind(at)
    .execute(tx)
    .await
    .map_err(db("recording a user"))
    .map(drop)
}

/// Records a user's status (`active` or not).
pub async fn put_status(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
    email: &str,
    active: bool,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "insert into sales_users (tenant_id, user_id, email, roles, updated_at, status) \
         values ($1, $2, $3, '', $4, $5) \
         on conflict (tenant_id, user_id) do update set status = excluded.status, \
         updated_at = excluded.updated_at where sales_users.updated_at <= excluded.updated_at",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(email)
    .bind(at)
    .bind(if active { "active" } else { "inactive" })
    .execute(tx)
    .await
    .map_err(db("recording a user's status"))
    .map(drop)
}

/// A user as sales knows them.
pub async fn sales_user(
    tx: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<SalesUser>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "select roles, status from sales_users where tenant_id = $1 and user_id = $2",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a user"))?;
    Ok(row.map(|(roles, status)| SalesUser {
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        active: status == "active",
    }))
}

#[async_trait]
impl TeamStore for SqlSalesStore {
    async fn record_user(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        roles: &[String],
        at: Millis,
    ) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording a user", async |tx| {
                put_user(tx, tenant, user, email, roles, at).await
            })
            .await
    }

    async fn record_user_status(
        &self,
        tenant: TenantId,
        user: UserId,
        email: &str,
        active: bool,
        at: Millis,
    ) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording a user's status", async |tx| {
                put_status(tx, tenant, user, email, active, at).await
            })
            .await
    }

    async fn sales_user(&self, tenant: TenantId, user: UserId) -> Result<Option<SalesUser>> {
        self.db
            .in_tenant(tenant, "reading a user", async |tx| {
                sales_user(tx, tenant, user).await
            })
            .await
    }

    async fn tenant_policy(&self, tenant: TenantId) -> Result<TenantPolicy> {
        self.db
            .in_tenant(tenant, "reading the tenant's settings", async |tx| {
                super::opportunities::policy(tx, tenant).await
            })
            .await
    }
}
