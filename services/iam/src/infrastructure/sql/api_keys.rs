//! API keys (`api_keys`).

use crm_core::storage::Conn;
use crm_core::{Error, Result, TenantId};
use uuid::Uuid;

use super::{db, parse_uuid};
use crate::domain::Millis;
use crate::domain::api_key::ApiKey;

use super::{SqlIamStore, finish, write_changes};
use crate::domain::ports::{ApiKeyStore, Change, Changes};
use async_trait::async_trait;

const COLUMNS: &str = "id, tenant_id, name, role_id, prefix, key_hash, created_by, created_at, \
                       expires_at, last_used_at, revoked_at, version";

/// An `api_keys` row as stored.
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    tenant_id: String,
    name: String,
    role_id: String,
    prefix: String,
    key_hash: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    version: i64,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = crm_core::Error;

    fn try_from(row: KeyRow) -> Result<ApiKey> {
        Ok(ApiKey {
            id: parse_uuid("api_keys.id", &row.id)?,
            tenant_id: parse_uuid("api_keys.tenant_id", &row.tenant_id)?.into(),
            name: row.name,
            role_id: row.role_id,
            prefix: row.prefix,
            key_hash: row.key_hash,
            created_by: parse_uuid("api_keys.created_by", &row.created_by)?.into(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            version: row.version,
        })
    }
}

/// Adds a key.
pub(super) async fn insert(tx: &mut Conn, key: &ApiKey) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into api_keys ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )))
    .bind(key.id.to_string())
    .bind(key.tenant_id.to_string())
    .bind(&key.name)
    .bind(&key.role_id)
    .bind(&key.prefix)
    .bind(&key.key_hash)
    .bind(key.created_by.to_string())
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(key.last_used_at)
    .bind(key.revoked_at)
    .bind(key.version)
    .execute(tx)
    .await
    .map_err(db("creating an API key"))
    .map(drop)
}

/// A key by a column's value (`id` or `key_hash`).
pub(super) async fn find(
    tx: &mut Conn,
    tenant: TenantId,
    by_hash: bool,
    value: &str,
) -> Result<Option<ApiKey>> {
    let column = if by_hash { "key_hash" } else { "id" };
    let row: Option<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_keys where tenant_id = $1 and {column} = $2"
    )))
    .bind(tenant.to_string())
    .bind(value)
    .fetch_optional(tx)
    .await
    .map_err(db("reading an API key"))?;
    row.map(ApiKey::try_from).transpose()
}

/// A key by id, its row locked for a change (`FOR UPDATE` on PostgreSQL; SQLite's writer holds
/// the whole store).
async fn get_to_change(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<ApiKey>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    let row: Option<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_keys where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading an API key"))?;
    row.map(ApiKey::try_from).transpose()
}

/// Keys newest first, before `before`.
pub(super) async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    before: Option<Uuid>,
    limit: u32,
) -> Result<Vec<ApiKey>> {
    let rows: Vec<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_keys where tenant_id = $1 and ($2 is null or id < $2) \
         order by id desc limit $3"
    )))
    .bind(tenant.to_string())
    .bind(before.map(|b| b.to_string()))
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("listing API keys"))?;
    rows.into_iter().map(ApiKey::try_from).collect()
}

/// Saves a changed key if it is still at `expected_version`; returns the rows changed.
pub(super) async fn update(tx: &mut Conn, key: &ApiKey, expected_version: i64) -> Result<u64> {
    let done = sqlx::query(
        "update api_keys set revoked_at = $3, version = $4 \
         where tenant_id = $1 and id = $2 and version = $5",
    )
    .bind(key.tenant_id.to_string())
    .bind(key.id.to_string())
    .bind(key.revoked_at)
    .bind(key.version)
    .bind(expected_version)
    .execute(tx)
    .await
    .map_err(db("saving an API key"))?;
    Ok(done.rows_affected())
}

/// Stamps a key's last use.
pub(super) async fn touch(tx: &mut Conn, tenant: TenantId, id: Uuid, at: Millis) -> Result<()> {
    sqlx::query("update api_keys set last_used_at = $3 where tenant_id = $1 and id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(at)
        .execute(tx)
        .await
        .map_err(db("recording an API key's use"))
        .map(drop)
}

#[async_trait]
impl ApiKeyStore for SqlIamStore {
    async fn insert_api_key(&self, key: &ApiKey, changes: Changes) -> Result<()> {
        let mut tx = self.begin(key.tenant_id).await?;
        insert(&mut tx, key).await?;
        finish(tx, key.tenant_id, changes, "creating an API key").await
    }

    async fn get_api_key(&self, tenant: TenantId, id: Uuid) -> Result<Option<ApiKey>> {
        self.db
            .in_tenant(tenant, "reading an API key", async |tx| {
                find(tx, tenant, false, &id.to_string()).await
            })
            .await
    }

    async fn api_key_by_hash(&self, tenant: TenantId, hash: &str) -> Result<Option<ApiKey>> {
        self.db
            .in_tenant(tenant, "reading an API key", async |tx| {
                find(tx, tenant, true, hash).await
            })
            .await
    }

    async fn list_api_keys(
        &self,
        tenant: TenantId,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ApiKey>> {
        self.db
            .in_tenant(tenant, "listing API keys", async |tx| {
                list(tx, tenant, before, limit).await
            })
            .await
    }

    async fn update_api_key(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_, ApiKey>,
    ) -> Result<ApiKey> {
        self.db
            .in_tenant_write(tenant, "saving an API key", async |tx| {
                let mut key = get_to_change(tx, tenant, id)
                    .await?
                    .ok_or_else(|| Error::not_found("API key", id))?;
                let expected = key.version;
                let Some(changes) = change(&mut key)? else {
                    return Ok(key);
                };
                // Read under the write lock: no other writer can have moved it on.
                if update(tx, &key, expected).await? == 0 {
                    return Err(Error::etag_mismatch("API key").with_metadata("id", id.to_string()));
                }
                write_changes(tx, tenant, changes).await?;
                Ok(key)
            })
            .await
    }

    async fn touch_api_key(&self, tenant: TenantId, id: Uuid, at: Millis) -> Result<()> {
        self.db
            .in_tenant(tenant, "recording an API key's use", async |tx| {
                touch(tx, tenant, id, at).await
            })
            .await
    }
}
