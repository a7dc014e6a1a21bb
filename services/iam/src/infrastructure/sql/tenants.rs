//! Tenants (`tenants`).

use crm_core::storage::{Conn, Database};
use crm_core::{Error, Result, TenantId};

use super::{corrupt, db, parse_uuid};
use crate::domain::email::Email;
use crate::domain::tenant::{Tenant, TenantSettings, TenantStatus};

use super::{SqlIamStore, finish, write_changes};
use crate::domain::ports::{Change, Changes, TenantStore};
use crate::domain::user::User;
use async_trait::async_trait;

/// A `tenants` row as stored.
#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    slug: String,
    status: String,
    settings: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = crm_core::Error;

    fn try_from(row: TenantRow) -> Result<Tenant> {
        Ok(Tenant {
            id: parse_uuid("tenants.id", &row.id)?.into(),
            name: row.name,
            slug: row.slug,
            status: TenantStatus::from_stored(&row.status),
            settings: serde_json::from_str::<TenantSettings>(&row.settings)
                .map_err(|e| corrupt("tenants.settings", e))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// A tenant by slug or id. (Before sign-in there is no tenant to scope to: the lookup runs
/// outside row-level security, and reads only this table.)
pub(super) async fn find(db_: &Database, slug_or_id: &str) -> Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(
        "select id, name, slug, status, settings, created_at, updated_at, version \
         from tenants where slug = $1 or id = $1",
    )
    .bind(slug_or_id)
    .fetch_optional(db_.pool())
    .await
    .map_err(db("reading a tenant"))?;
    row.map(Tenant::try_from).transpose()
}

/// The active tenants where `email` has an active account, by name, at most `limit`. Before
/// sign-in there is no tenant to scope to: on PostgreSQL the accounts are read under the
/// sign-in's own policy (`app.sign_in`), in a transaction that reads nothing else.
pub(super) async fn with_account(db_: &Database, email: &Email, limit: u32) -> Result<Vec<Tenant>> {
    const DOING: &str = "finding the workspaces of an email";
    let mut tx = db_
        .begin_scoped("app.sign_in", "on")
        .await
        .map_err(db(DOING))?;
    let rows: Vec<TenantRow> = sqlx::query_as(
        "select t.id, t.name, t.slug, t.status, t.settings, t.created_at, t.updated_at, \
                t.version \
         from tenants t \
         where t.status = 'active' \
           and exists (select 1 from users u \
                       where u.tenant_id = t.id and u.email = $1 and u.status = 'active') \
         order by t.name, t.id limit $2",
    )
    .bind(email.as_str())
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db(DOING))?;
    tx.commit().await.map_err(db(DOING))?;
    rows.into_iter().map(Tenant::try_from).collect()
}

/// A tenant by id, its row locked for a change (`FOR UPDATE` on PostgreSQL; SQLite's writer
/// holds the whole store).
async fn get_to_change(tx: &mut Conn, id: TenantId) -> Result<Option<Tenant>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    let row: Option<TenantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select id, name, slug, status, settings, created_at, updated_at, version \
         from tenants where id = $1{lock}"
    )))
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a tenant"))?;
    row.map(Tenant::try_from).transpose()
}

/// Whether a slug is taken.
pub(super) async fn slug_taken(db_: &Database, slug: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from tenants where slug = $1")
        .bind(slug)
        .fetch_one(db_.pool())
        .await
        .map_err(db("checking a slug"))?;
    Ok(n > 0)
}

fn settings(tenant: &Tenant) -> String {
    serde_json::to_string(&tenant.settings).expect("settings serialise")
}

/// Adds a tenant.
pub(super) async fn insert(tx: &mut Conn, tenant: &Tenant) -> Result<()> {
    sqlx::query(
        "insert into tenants (id, name, slug, status, settings, created_at, updated_at, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.id.to_string())
    .bind(&tenant.name)
    .bind(&tenant.slug)
    .bind(tenant.status.as_str())
    .bind(settings(tenant))
    .bind(tenant.created_at)
    .bind(tenant.updated_at)
    .bind(tenant.version)
    .execute(tx)
    .await
    .map_err(db("creating a tenant"))
    .map(drop)
}

/// Saves a changed tenant if it is still at `expected_version`; returns the rows changed.
pub(super) async fn update(tx: &mut Conn, tenant: &Tenant, expected_version: i64) -> Result<u64> {
    let done = sqlx::query(
        "update tenants set name = $2, slug = $3, status = $4, settings = $5, updated_at = $6, version = $7 \
         where id = $1 and version = $8",
    )
    .bind(tenant.id.to_string())
    .bind(&tenant.name)
    .bind(&tenant.slug)
    .bind(tenant.status.as_str())
    .bind(settings(tenant))
    .bind(tenant.updated_at)
    .bind(tenant.version)
    .bind(expected_version)
    .execute(tx)
    .await
    .map_err(db("saving a tenant"))?;
    Ok(done.rows_affected())
}

#[async_trait]
impl TenantStore for SqlIamStore {
    async fn find_tenant(&self, slug_or_id: &str) -> Result<Option<Tenant>> {
        find(&self.db, slug_or_id).await
    }

    async fn slug_taken(&self, slug: &str) -> Result<bool> {
        slug_taken(&self.db, slug).await
    }

    async fn tenants_with_account(&self, email: &Email, limit: u32) -> Result<Vec<Tenant>> {
        with_account(&self.db, email, limit).await
    }

    async fn create_tenant(
        &self,
        tenant: &Tenant,
        owner: Option<&User>,
        changes: Changes,
    ) -> Result<()> {
        let mut tx = self.begin(tenant.id).await?;
        insert(&mut tx, tenant).await?;
        if let Some(owner) = owner {
            super::users::insert(&mut tx, &self.secrets, owner).await?;
        }
        finish(tx, tenant.id, changes, "creating a tenant").await
    }

    async fn update_tenant(&self, id: TenantId, mut change: Change<'_, Tenant>) -> Result<Tenant> {
        self.db
            .in_tenant_write(id, "saving a tenant", async |tx| {
                let mut tenant = get_to_change(tx, id)
                    .await?
                    .ok_or_else(|| Error::not_found("tenant", id))?;
                let expected = tenant.version;
                let Some(changes) = change(&mut tenant)? else {
                    return Ok(tenant);
                };
                // Read under the write lock: no other writer can have moved it on.
                if update(tx, &tenant, expected).await? == 0 {
                    return Err(Error::etag_mismatch("tenant").with_metadata("id", id.to_string()));
                }
                write_changes(tx, id, changes).await?;
                Ok(tenant)
            })
            .await
    }
}
