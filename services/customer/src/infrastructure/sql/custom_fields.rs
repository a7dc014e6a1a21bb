//! The workspaces' custom field definitions (`custom_fields`) on SQLite and PostgreSQL: the
//! definition as a JSON document beside its key. Kept here whatever store holds the customers.

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, Engine, UniqueConstraint, from_doc, map_db_error, to_doc};
use crm_core::{Error, ErrorKind, Result, TenantId};

use crate::domain::custom_field::CustomField;
use crate::domain::ports::{CustomFieldStore, FieldChange};

const UNIQUES: &[UniqueConstraint] = &[UniqueConstraint {
    name: "custom_fields_tenant_key_key",
    sqlite_columns: "custom_fields.tenant_id, custom_fields.key",
    field: "custom_field.key",
    message: "a custom field with this key already exists",
}];

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// The first key of the advisory lock a definition's insert takes on PostgreSQL (the second
/// is the tenant's hash), apart from the outbox's.
const LOCK_SPACE: i32 = 0x6366_6c64; // "cfld"

/// Custom field definitions on either engine.
pub struct SqlCustomFieldStore {
    db: Database,
}

impl SqlCustomFieldStore {
    /// A store on `db` (migrated).
    pub fn new(db: Database) -> SqlCustomFieldStore {
        SqlCustomFieldStore { db }
    }
}

async fn find(tx: &mut Conn, tenant: TenantId, key: &str) -> Result<Option<CustomField>> {
    let lock = Engine::of(tx).row_lock();
    let doc: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select doc from custom_fields where tenant_id = $1 and key = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(key)
    .fetch_optional(tx)
    .await
    .map_err(db("reading a custom field"))?;
    doc.map(|d| from_doc("custom_fields.doc", &d)).transpose()
}

/// Refuses a definition past `max` of its tenant's. Two inserts at once count in turn: SQLite's
/// write lock, and on PostgreSQL a transaction-level advisory lock on the tenant.
async fn within_cap(tx: &mut Conn, tenant: TenantId, max: i64) -> Result<()> {
    if Engine::of(tx) == Engine::Postgres {
        sqlx::query("select pg_advisory_xact_lock($1, hashtext($2))")
            .bind(LOCK_SPACE)
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("locking a workspace's custom fields"))?;
    }
    let kept: i64 = sqlx::query_scalar("select count(*) from custom_fields where tenant_id = $1")
        .bind(tenant.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db("counting a workspace's custom fields"))?;
    if kept >= max {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "this workspace has {kept} custom fields, the most it may: delete one it no longer uses"
            ),
        )
        .with_reason("TOO_MANY_CUSTOM_FIELDS"));
    }
    Ok(())
}

#[async_trait]
impl CustomFieldStore for SqlCustomFieldStore {
    async fn list_fields(&self, tenant: TenantId) -> Result<Vec<CustomField>> {
        self.db
            .in_tenant(tenant, "listing custom fields", async |tx| {
                let docs: Vec<String> = sqlx::query_scalar(
                    "select doc from custom_fields where tenant_id = $1 order by created_at, key",
                )
                .bind(tenant.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(db("listing custom fields"))?;
                docs.iter()
                    .map(|d| from_doc("custom_fields.doc", d))
                    .collect()
            })
            .await
    }

    async fn insert_field(&self, field: &CustomField, max: i64) -> Result<()> {
        self.db
            .in_tenant_write(field.tenant_id, "defining a custom field", async |tx| {
                within_cap(tx, field.tenant_id, max).await?;
                sqlx::query(
                    "insert into custom_fields (tenant_id, key, doc, created_at, version) \
                     values ($1, $2, $3, $4, $5)",
                )
                .bind(field.tenant_id.to_string())
                .bind(&field.key)
                .bind(to_doc(field))
                .bind(field.created_at)
                .bind(field.version)
                .execute(&mut *tx)
                .await
                .map_err(db("defining a custom field"))
                .map(drop)
            })
            .await
    }

    async fn update_field(
        &self,
        tenant: TenantId,
        key: &str,
        change: FieldChange<'_>,
    ) -> Result<CustomField> {
        self.db
            .in_tenant_write(tenant, "changing a custom field", async |tx| {
                let mut field = find(tx, tenant, key)
                    .await?
                    .ok_or_else(|| Error::not_found("custom field", key))?;
                if !change(&mut field)? {
                    return Ok(field);
                }
                sqlx::query(
                    "update custom_fields set doc = $3, version = $4 where tenant_id = $1 and key = $2",
                )
                .bind(tenant.to_string())
                .bind(key)
                .bind(to_doc(&field))
                .bind(field.version)
                .execute(&mut *tx)
                .await
                .map_err(db("changing a custom field"))?;
                Ok(field)
            })
            .await
    }

    async fn delete_field(
        &self,
        tenant: TenantId,
        key: &str,
        check: FieldChange<'_>,
    ) -> Result<()> {
        self.db
            .in_tenant_write(tenant, "deleting a custom field", async |tx| {
                let mut field = find(tx, tenant, key)
                    .await?
                    .ok_or_else(|| Error::not_found("custom field", key))?;
                check(&mut field)?;
                sqlx::query("delete from custom_fields where tenant_id = $1 and key = $2")
                    .bind(tenant.to_string())
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("deleting a custom field"))
                    .map(drop)
            })
            .await
    }
}
