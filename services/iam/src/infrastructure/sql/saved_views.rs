//! Saved views (`saved_views`).

use async_trait::async_trait;
use crm_core::storage::{Conn, Engine};
use crm_core::{Error, ErrorKind, Result, TenantId, UserId};
use uuid::Uuid;

use super::{SqlIamStore, db, parse_uuid};
use crate::domain::ports::{Change, SavedViewStore, ViewCheck};
use crate::domain::saved_view::SavedView;

const COLUMNS: &str =
    "id, tenant_id, owner_id, list, name, query, shared, created_at, updated_at, version";

/// A `saved_views` row as stored.
#[derive(sqlx::FromRow)]
struct ViewRow {
    id: String,
    tenant_id: String,
    owner_id: String,
    list: String,
    name: String,
    query: String,
    /// 1 or 0 (the same column type on both engines).
    shared: i64,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

impl TryFrom<ViewRow> for SavedView {
    type Error = Error;

    fn try_from(row: ViewRow) -> Result<SavedView> {
        Ok(SavedView {
            id: parse_uuid("saved_views.id", &row.id)?,
            tenant_id: parse_uuid("saved_views.tenant_id", &row.tenant_id)?.into(),
            owner_id: parse_uuid("saved_views.owner_id", &row.owner_id)?.into(),
            list: row.list,
            name: row.name,
            query: row.query,
            shared: row.shared != 0,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// A view by id; locked for a change when `lock` (`FOR UPDATE` on PostgreSQL; SQLite's writer
/// holds the whole store).
async fn find(tx: &mut Conn, tenant: TenantId, id: Uuid, lock: bool) -> Result<Option<SavedView>> {
    let lock = if lock { Engine::of(tx).row_lock() } else { "" };
    let row: Option<ViewRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from saved_views where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(tx)
    .await
    .map_err(db("reading a saved view"))?;
    row.map(SavedView::try_from).transpose()
}

/// Refuses a view past `max` of its owner's of its list. The owner's user row is written first
/// (a row lock in PostgreSQL, the write lock in SQLite), so two saves at once count in turn.
async fn within_cap(tx: &mut Conn, view: &SavedView, max: i64) -> Result<()> {
    sqlx::query("update users set version = version where tenant_id = $1 and id = $2")
        .bind(view.tenant_id.to_string())
        .bind(view.owner_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("locking a person's saved views"))?;
    let kept: i64 = sqlx::query_scalar(
        "select count(*) from saved_views where tenant_id = $1 and owner_id = $2 and list = $3",
    )
    .bind(view.tenant_id.to_string())
    .bind(view.owner_id.to_string())
    .bind(&view.list)
    .fetch_one(&mut *tx)
    .await
    .map_err(db("counting a person's saved views"))?;
    if kept >= max {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "you keep {kept} views of the {} list, the most one person may: delete one you no longer use",
                view.list
            ),
        )
        .with_reason("TOO_MANY_VIEWS"));
    }
    Ok(())
}

async fn insert(tx: &mut Conn, view: &SavedView) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into saved_views ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )))
    .bind(view.id.to_string())
    .bind(view.tenant_id.to_string())
    .bind(view.owner_id.to_string())
    .bind(&view.list)
    .bind(&view.name)
    .bind(&view.query)
    .bind(i64::from(view.shared))
    .bind(view.created_at)
    .bind(view.updated_at)
    .bind(view.version)
    .execute(tx)
    .await
    .map_err(db("saving a view"))
    .map(drop)
}

/// Saves a changed view if it is still at `expected_version`; returns the rows changed.
async fn update(tx: &mut Conn, view: &SavedView, expected_version: i64) -> Result<u64> {
    let done = sqlx::query(
        "update saved_views set name = $3, query = $4, shared = $5, updated_at = $6, version = $7 \
         where tenant_id = $1 and id = $2 and version = $8",
    )
    .bind(view.tenant_id.to_string())
    .bind(view.id.to_string())
    .bind(&view.name)
    .bind(&view.query)
    .bind(i64::from(view.shared))
    .bind(view.updated_at)
    .bind(view.version)
    .bind(expected_version)
    .execute(tx)
    .await
    .map_err(db("saving a view"))?;
    Ok(done.rows_affected())
}

#[async_trait]
impl SavedViewStore for SqlIamStore {
    async fn insert_saved_view(&self, view: &SavedView, max: i64) -> Result<()> {
        self.db
            .in_tenant_write(view.tenant_id, "saving a view", async |tx| {
                within_cap(tx, view, max).await?;
                insert(tx, view).await
            })
            .await
    }

    async fn get_saved_view(&self, tenant: TenantId, id: Uuid) -> Result<Option<SavedView>> {
        self.db
            .in_tenant(tenant, "reading a saved view", async |tx| {
                find(tx, tenant, id, false).await
            })
            .await
    }

    async fn list_saved_views(
        &self,
        tenant: TenantId,
        list: &str,
        viewer: Option<UserId>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SavedView>> {
        self.db
            .in_tenant(tenant, "listing saved views", async |tx| {
                let rows: Vec<ViewRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from saved_views where tenant_id = $1 and list = $2 \
                     and (shared = 1 or owner_id = $3) and ($4 is null or id > $4) \
                     order by id limit $5"
                )))
                .bind(tenant.to_string())
                .bind(list)
                .bind(viewer.map(|v| v.to_string()).unwrap_or_default())
                .bind(after.map(|a| a.to_string()))
                .bind(i64::from(limit))
                .fetch_all(tx)
                .await
                .map_err(db("listing saved views"))?;
                rows.into_iter().map(SavedView::try_from).collect()
            })
            .await
    }

    async fn update_saved_view(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_, SavedView>,
    ) -> Result<SavedView> {
        self.db
            .in_tenant_write(tenant, "saving a view", async |tx| {
                let mut view = find(tx, tenant, id, true)
                    .await?
                    .ok_or_else(|| Error::not_found("saved view", id))?;
                let expected = view.version;
                if change(&mut view)?.is_none() {
                    return Ok(view);
                }
                // Read under the write lock: no other writer can have moved it on.
                if update(tx, &view, expected).await? == 0 {
                    return Err(Error::etag_mismatch("saved view"));
                }
                Ok(view)
            })
            .await
    }

    async fn delete_saved_view(
        &self,
        tenant: TenantId,
        id: Uuid,
        check: ViewCheck<'_>,
    ) -> Result<()> {
        self.db
            .in_tenant_write(tenant, "deleting a view", async |tx| {
                let view = find(tx, tenant, id, true)
                    .await?
                    .ok_or_else(|| Error::not_found("saved view", id))?;
                check(&view)?;
                sqlx::query("delete from saved_views where tenant_id = $1 and id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("deleting a view"))
                    .map(drop)
            })
            .await
    }
}
