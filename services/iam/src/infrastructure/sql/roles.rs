//! Custom roles (`roles`) and who holds a role (`user_roles`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::{corrupt, db, parse_uuid};
use crate::domain::role::CustomRole;

use super::{SqlIamStore, finish, lock_tenant, write_changes};
use crate::domain::ports::{Change, Changes, RoleStore};
use async_trait::async_trait;
use crm_core::Error;

/// A `roles` row as stored.
#[derive(sqlx::FromRow)]
struct RoleRow {
    id: String,
    tenant_id: String,
    name: String,
    description: String,
    permissions: String,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl TryFrom<RoleRow> for CustomRole {
    type Error = crm_core::Error;

    fn try_from(row: RoleRow) -> Result<CustomRole> {
        Ok(CustomRole {
            id: parse_uuid("roles.id", &row.id)?,
            tenant_id: parse_uuid("roles.tenant_id", &row.tenant_id)?.into(),
            name: row.name,
            description: row.description,
            permissions: serde_json::from_str(&row.permissions)
                .map_err(|e| corrupt("roles.permissions", e))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

fn permissions(role: &CustomRole) -> String {
    serde_json::to_string(&role.permissions).expect("a list serialises")
}

/// The tenant's custom roles, by name.
pub(super) async fn list(tx: &mut Conn, tenant: TenantId) -> Result<Vec<CustomRole>> {
    let rows: Vec<RoleRow> = sqlx::query_as(
        "select id, tenant_id, name, description, permissions, created_at, updated_at, version \
         from roles where tenant_id = $1 order by name",
    )
    .bind(tenant.to_string())
    .fetch_all(tx)
    .await
    .map_err(db("reading roles"))?;
    rows.into_iter().map(CustomRole::try_from).collect()
}

/// A custom role by id, its row locked for a change (`FOR UPDATE` on PostgreSQL; SQLite's
/// writer holds the whole store).
async fn get_to_change(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<CustomRole>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    let row: Option<RoleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select id, tenant_id, name, description, permissions, created_at, updated_at, version \
         from roles where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a role"))?;
    row.map(CustomRole::try_from).transpose()
}

/// Adds a custom role.
pub(super) async fn insert(tx: &mut Conn, role: &CustomRole) -> Result<()> {
    sqlx::query(
        "insert into roles (id, tenant_id, name, description, permissions, created_at, updated_at, version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(role.id.to_string())
    .bind(role.tenant_id.to_string())
    .bind(&role.name)
    .bind(&role.description)
    .bind(permissions(role))
    .bind(role.created_at)
    .bind(role.updated_at)
    .bind(role.version)
    .execute(tx)
    .await
    .map_err(db("creating a role"))
    .map(drop)
}

/// Saves a changed role if it is still at `expected_version`; returns the rows changed.
pub(super) async fn update(tx: &mut Conn, role: &CustomRole, expected_version: i64) -> Result<u64> {
    let done = sqlx::query(
        "update roles set description = $3, permissions = $4, updated_at = $5, version = $6 \
         where tenant_id = $1 and id = $2 and version = $7",
    )
    .bind(role.tenant_id.to_string())
    .bind(role.id.to_string())
    .bind(&role.description)
    .bind(permissions(role))
    .bind(role.updated_at)
    .bind(role.version)
    .bind(expected_version)
    .execute(tx)
    .await
    .map_err(db("saving a role"))?;
    Ok(done.rows_affected())
}

/// Deletes a custom role; false when there was none.
pub(super) async fn delete(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<bool> {
    let done = sqlx::query("delete from roles where tenant_id = $1 and id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(tx)
        .await
        .map_err(db("deleting a role"))?;
    Ok(done.rows_affected() > 0)
}

/// Whether the tenant has a custom role named `name`.
pub(super) async fn exists(tx: &mut Conn, tenant: TenantId, name: &str) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("select count(*) from roles where tenant_id = $1 and name = $2")
            .bind(tenant.to_string())
            .bind(name)
            .fetch_one(tx)
            .await
            .map_err(db("reading a role"))?;
    Ok(n > 0)
}

/// The name of the custom role `id`, if the tenant has it.
pub(super) async fn name_of(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<String>> {
    sqlx::query_scalar("select name from roles where tenant_id = $1 and id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(tx)
        .await
        .map_err(db("reading a role"))
}

/// Users holding `role`: every status, or only active ones.
pub(super) async fn count_holders(
    tx: &mut Conn,
    tenant: TenantId,
    role: &str,
    active_only: bool,
) -> Result<i64> {
    sqlx::query_scalar(
        "select count(*) from user_roles r join users u on u.id = r.user_id \
         where r.tenant_id = $1 and r.role = $2 and ($3 = 0 or u.status = 'active')",
    )
    .bind(tenant.to_string())
    .bind(role)
    .bind(i64::from(active_only))
    .fetch_one(tx)
    .await
    .map_err(db("counting role holders"))
}

#[async_trait]
impl RoleStore for SqlIamStore {
    async fn list_custom_roles(&self, tenant: TenantId) -> Result<Vec<CustomRole>> {
        self.db
            .in_tenant(tenant, "reading roles", async |tx| list(tx, tenant).await)
            .await
    }

    async fn insert_role(&self, role: &CustomRole, changes: Changes) -> Result<()> {
        let mut tx = self.begin(role.tenant_id).await?;
        insert(&mut tx, role).await?;
        finish(tx, role.tenant_id, changes, "creating a role").await
    }

    async fn update_role(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_, CustomRole>,
    ) -> Result<CustomRole> {
        self.db
            .in_tenant_write(tenant, "saving a role", async |tx| {
                let mut role = get_to_change(tx, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("role", id))?;
                let expected = role.version;
                let Some(changes) = change(&mut role)? else {
                    return Ok(role);
                };
                // Read under the write lock: no other writer can have moved it on.
                if update(tx, &role, expected).await? == 0 {
                    return Err(Error::etag_mismatch("role").with_metadata("id", id.to_string()));
                }
                write_changes(tx, tenant, changes).await?;
                Ok(role)
            })
            .await
    }

    async fn delete_role(&self, tenant: TenantId, id: Uuid, changes: Changes) -> Result<()> {
        let mut tx = self.begin(tenant).await?;
        // Under the tenant's lock, as grants check the role (`Changes::custom_roles`): a grant
        // that got there first is counted, a later one finds the role gone.
        lock_tenant(&mut tx, tenant).await?;
        let Some(name) = name_of(&mut tx, tenant, id).await? else {
            return Err(Error::not_found("role", id));
        };
        let holders = count_holders(&mut tx, tenant, &name, false).await?;
        if holders > 0 {
            return Err(crate::domain::role::role_in_use_error(holders));
        }
        if !delete(&mut tx, tenant, id).await? {
            return Err(Error::not_found("role", id));
        }
        finish(tx, tenant, changes, "deleting a role").await
    }

    async fn count_holders(&self, tenant: TenantId, role: &str) -> Result<i64> {
        self.db
            .in_tenant(tenant, "counting role holders", async |tx| {
                count_holders(tx, tenant, role, false).await
            })
            .await
    }
}
